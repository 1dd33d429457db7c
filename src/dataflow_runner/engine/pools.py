"""Pools of clusters (SparkFlow's pools by size class): a name, the cluster config
its clusters are launched with — a *size class* (``tiny`` ... ``xlarge``) that
the admin maps to a cluster config file (``server --size-classes FILE``), or a
config given with the pool — the tags its clusters carry, and how many there are:
``minClusters`` kept up, at most ``maxClusters``, each running at most
``maxStepsPerCluster`` steps, ended once idle for ``idleMinutes``. The pool
manager (``engine/pool_manager.py``) does the launching and the ending.

A pool keeps its cluster config sealed (``engine/payload.py``), resolved from its
size class when the pool is saved: every server of a store launches the same
clusters, whichever holds the manager. Deleting a pool marks it DELETING: it
launches nothing more, its clusters end as soon as they are idle, then it is gone.

A pool's document is checked whole, one line per problem with its JSON path
(``pool: $.minClusters: 3 is more than maxClusters (1)``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError
from dataflow_runner.store.records import PoolRecord, PoolState, PoolWaitRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.payload import Keyring

SIZE_CLASSES = ("tiny", "small", "medium", "large", "xlarge")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: A tag: no blanks, no commas (Genie's tags are free text; these travel in URLs).
_TAG = re.compile(r"^[^\s,]{1,255}$")
#: The most clusters one pool may have.
MAX_CLUSTERS = 1000


class PoolNotFound(DataflowRunnerError):
    """No pool of that name."""


@dataclass(frozen=True)
class Pool:
    name: str
    cluster: Mapping[str, Any]  # the cluster config document its clusters launch with
    fabric: str
    size_class: str | None = None
    tags: tuple[str, ...] = ()
    min_clusters: int = 0
    max_clusters: int = 1
    max_steps_per_cluster: int = 1
    idle_minutes: float = 30.0
    state: PoolState = PoolState.ACTIVE
    created_at: float = 0.0
    updated_at: float = 0.0
    updated_by: str = ""

    @property
    def deleting(self) -> bool:
        return self.state is PoolState.DELETING


@dataclass(frozen=True)
class PoolSpec:
    """A pool as it is asked for (``PUT /pools/{name}``), checked."""

    cluster: Mapping[str, Any]
    fabric: str
    size_class: str | None
    tags: tuple[str, ...]
    min_clusters: int
    max_clusters: int
    max_steps_per_cluster: int
    idle_minutes: float


@dataclass(frozen=True)
class SizeClasses:
    """The admin's size classes: class → cluster config document."""

    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> SizeClasses:
        """``FILE`` maps classes to cluster config files (paths relative to it):
        ``{"small": "clusters/small.json", ...}`` (JSON or YAML). Each file is
        checked here: a bad one stops the server with one line."""
        if path is None:
            return cls()
        from dataflow_runner.config.loading import load_cluster, parse, read_text

        text = read_text(str(path))
        mapping = parse(text, str(path))
        if not isinstance(mapping, Mapping):
            raise ConfigError("expected a mapping of size classes to cluster config files",
                              file=str(path), path="$")  # fmt: skip
        configs: dict[str, Mapping[str, Any]] = {}
        errors: list[ConfigError] = []
        for name, file in mapping.items():
            where = f"$.{name}"
            if name not in SIZE_CLASSES:
                errors.append(ConfigError(
                    f"unknown size class '{name}' (known: {', '.join(SIZE_CLASSES)})",
                    file=str(path), path=where))  # fmt: skip
                continue
            if not isinstance(file, str):
                errors.append(ConfigError("expected a cluster config file's path",
                                          file=str(path), path=where))  # fmt: skip
                continue
            target = (path.parent / file) if not Path(file).is_absolute() else Path(file)
            try:
                config_text = read_text(str(target))
                load_cluster(str(target), {}, text=config_text)
                configs[name] = parse(config_text, str(target))
            except ConfigErrors as exc:
                errors.extend(exc.errors)
            except ConfigError as exc:
                errors.append(exc if exc.file else exc.with_file(str(target)))
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
        return cls(configs)

    @property
    def names(self) -> list[str]:
        return [c for c in SIZE_CLASSES if c in self.configs]


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise FlagError(
            f"'{name}' is not a pool's name (letters, digits, '.', '_', '-'; at most 63 characters)"
        )


def _int(
    doc: Mapping[str, Any], key: str, default: int, low: int, errors: list[ConfigError]
) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(ConfigError(f"expected a whole number, got {json.dumps(value)}",
                                  path=f"$.{key}"))  # fmt: skip
        return default
    if value < low or value > MAX_CLUSTERS * 1000:
        errors.append(ConfigError(f"{value} is out of range (at least {low})", path=f"$.{key}"))
        return default
    return value


def check_doc(doc: Mapping[str, Any], size_classes: Mapping[str, Mapping[str, Any]]) -> PoolSpec:
    """A pool's document, every problem at once (one line each, with its JSON path)."""
    from dataflow_runner.config.loading import load_cluster

    errors: list[ConfigError] = []
    known = ("sizeClass", "cluster", "tags", "minClusters", "maxClusters",
             "maxStepsPerCluster", "idleMinutes")  # fmt: skip
    for key in doc:
        if key not in known:
            message = f"unknown field (known: {', '.join(known)})"
            errors.append(ConfigError(message, path=f"$.{key}"))
    size = doc.get("sizeClass")
    cluster = doc.get("cluster")
    config: Mapping[str, Any] | None = None
    if size is not None and cluster is not None:
        errors.append(ConfigError("give a size class or a cluster config, not both",
                                  path="$.cluster"))  # fmt: skip
    elif size is None and cluster is None:
        errors.append(ConfigError("a pool needs a size class or a cluster config",
                                  path="$.sizeClass"))  # fmt: skip
    elif size is not None:
        if size not in SIZE_CLASSES:
            errors.append(ConfigError(
                f"unknown size class {json.dumps(size)} (known: {', '.join(SIZE_CLASSES)})",
                path="$.sizeClass"))  # fmt: skip
        elif size not in size_classes:
            configured = ", ".join(c for c in SIZE_CLASSES if c in size_classes) or "none"
            errors.append(ConfigError(
                f"size class '{size}' has no cluster config on this server (configured: "
                f"{configured}; see server --size-classes)", path="$.sizeClass"))  # fmt: skip
        else:
            config = size_classes[size]
    elif not isinstance(cluster, Mapping):
        errors.append(ConfigError("expected a cluster config document", path="$.cluster"))
    else:
        config = cluster
    fabric = ""
    if config is not None:
        try:
            loaded = load_cluster("cluster", {}, text=json.dumps(config))
            fabric = loaded.fabric
        except ConfigErrors as exc:
            errors.extend(_under_cluster(e) for e in exc.errors)
        except ConfigError as exc:
            errors.append(_under_cluster(exc))
    tags = doc.get("tags", [])
    if not isinstance(tags, list):
        errors.append(ConfigError("expected a list of tags", path="$.tags"))
        tags = []
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not _TAG.match(tag):
            errors.append(ConfigError(
                f"{json.dumps(tag)} is not a tag (text without blanks or commas, such as "
                "env:prod)", path=f"$.tags[{i}]"))  # fmt: skip
    least = _int(doc, "minClusters", 0, 0, errors)
    most = _int(doc, "maxClusters", 1, 1, errors)
    steps = _int(doc, "maxStepsPerCluster", 1, 1, errors)
    if most > MAX_CLUSTERS:
        errors.append(ConfigError(f"at most {MAX_CLUSTERS} clusters", path="$.maxClusters"))
    if least > most:
        errors.append(ConfigError(f"{least} is more than maxClusters ({most})",
                                  path="$.minClusters"))  # fmt: skip
    idle = doc.get("idleMinutes", 30)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or not 0 <= idle <= 10**6:
        errors.append(ConfigError(f"expected minutes (0 or more), got {json.dumps(idle)}",
                                  path="$.idleMinutes"))  # fmt: skip
        idle = 30
    if errors:
        errors = [e.with_file("pool") for e in errors]
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    assert config is not None
    return PoolSpec(
        cluster=config,
        fabric=fabric,
        size_class=size,
        tags=tuple(dict.fromkeys(str(t) for t in tags)),
        min_clusters=least,
        max_clusters=most,
        max_steps_per_cluster=steps,
        idle_minutes=float(idle),
    )


def _under_cluster(exc: ConfigError) -> ConfigError:
    """A problem of the pool's cluster config, at its path in the pool's document."""
    path = exc.path or "$"
    return ConfigError(exc.message, path="$.cluster" + path[1:], line=None)


# --- the store --------------------------------------------------------------------------


def put(
    engine: Engine, keyring: Keyring, name: str, spec: PoolSpec, *, by: str
) -> tuple[Pool, bool]:
    """Create or replace a pool; True when it is new. A pool being deleted cannot
    be replaced until it is gone."""
    check_name(name)
    tables = engine.store.pools
    before = tables.pool(name)
    if before is not None and before.state is PoolState.DELETING:
        raise PoolConflict(f"pool '{name}' is being deleted: its clusters end first")
    now = time.time()
    record = PoolRecord(
        name=name,
        payload=keyring.seal({"cluster": dict(spec.cluster)}),
        created_at=before.created_at if before is not None else now,
        updated_at=now,
        fabric=spec.fabric,
        size_class=spec.size_class,
        tags=spec.tags,
        min_clusters=spec.min_clusters,
        max_clusters=spec.max_clusters,
        max_steps_per_cluster=spec.max_steps_per_cluster,
        idle_minutes=spec.idle_minutes,
        updated_by=by,
    )
    tables.put_pool(record)
    return opened(keyring, record), before is None


class PoolConflict(DataflowRunnerError):
    """The pool is not in a state that allows what was asked."""


def get(engine: Engine, keyring: Keyring, name: str) -> Pool:
    record = engine.store.pools.pool(name)
    if record is None:
        raise PoolNotFound(f"no pool '{name}'")
    return opened(keyring, record)


def listed(engine: Engine, keyring: Keyring) -> list[Pool]:
    return [opened(keyring, r) for r in engine.store.pools.pools()]


def delete(engine: Engine, name: str, *, by: str) -> None:
    """Mark the pool DELETING (see the module's docstring)."""
    if not engine.store.pools.mark_deleting(name, at=time.time(), by=by):
        raise PoolNotFound(f"no pool '{name}'")


def opened(keyring: Keyring, record: PoolRecord) -> Pool:
    doc = keyring.open(record.payload, what=f"pool '{record.name}'")
    return Pool(
        name=record.name,
        cluster=doc["cluster"],
        fabric=record.fabric,
        size_class=record.size_class,
        tags=record.tags,
        min_clusters=record.min_clusters,
        max_clusters=record.max_clusters,
        max_steps_per_cluster=record.max_steps_per_cluster,
        idle_minutes=record.idle_minutes,
        state=record.state,
        created_at=record.created_at,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
    )


def clusters_of(engine: Engine, name: str) -> list[dict[str, Any]]:
    """The pool's clusters now, launches in flight included: launch id, cluster id,
    state (the store's, ``LAUNCHING`` before the fabric answered), load."""
    tables = engine.store.pools
    loads = tables.loads()
    shown = []
    for launch in tables.live_launches(name):
        state = "LAUNCHING"
        if launch.cluster_id is not None:
            found = engine.store.reader.cluster(launch.cluster_id)
            state = found.state.value if found is not None else "STARTING"
        shown.append({
            "launch": launch.id,
            "id": launch.cluster_id,
            "state": "TERMINATING" if launch.terminate_at is not None and state != "TERMINATED"
            else state,
            "load": loads.get(launch.cluster_id or "", 0),
            "idleSince": launch.idle_since,
        })  # fmt: skip
    return shown


# --- runs sent to a pool ---------------------------------------------------------------


def matching(engine: Engine, criteria: Sequence[Sequence[str]]) -> str | None:
    """The pool a job that no cluster matches waits for: Genie's rule on pools'
    tags — the first set of ``criteria`` that some live pool carries every tag of
    wins; among its pools, the first by name. None: no pool would match."""
    pools = [p for p in engine.store.pools.pools() if p.state is PoolState.ACTIVE]
    for wanted in criteria:
        found = [p.name for p in pools if set(wanted) <= set(p.tags)]
        if found:
            return sorted(found)[0]
    return None


def usable(engine: Engine, name: str) -> PoolRecord:
    """The pool a run is sent to: it must exist and not be being deleted."""
    record = engine.store.pools.pool(name)
    if record is None:
        raise PoolNotFound(f"no pool '{name}'")
    if record.state is PoolState.DELETING:
        raise PoolConflict(f"pool '{name}' is being deleted: it takes no runs")
    return record


def waiting_count(engine: Engine, name: str) -> int:
    return sum(1 for w in engine.store.pools.waiting() if w.pool == name)


def wait_record(run_id: str, pool: str, steps: int, at: float) -> PoolWaitRecord:
    return PoolWaitRecord(run_id=run_id, pool=pool, created_at=at, steps=max(1, steps))


def placed_cluster(engine: Engine, run_id: str) -> str | None:
    """The cluster a pool's run was placed on (None: not a pool's run, or waiting)."""
    found = engine.store.pools.wait(run_id)
    return found.cluster_id if found is not None else None
