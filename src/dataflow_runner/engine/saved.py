"""Saved playbooks: what the users of a server keep under a name and run again
(SparkFlow's "transforms", Genie's job profiles): a playbook, the cluster config
it runs on (or the name of a pool of clusters: its runs wait in the pool's queue
for one of its clusters, ``engine/pools.py``), and
default variables. Sealed like a run's request (``engine/payload.py``): they may
hold secrets; whoever shows them masks those.

A document without templates is validated when it is saved; one with templates
(``{{ .date }}``) can only be validated with its variables, when it runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine.payload import Documents, Keyring, Submission
from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError
from dataflow_runner.store.records import SavedPlaybookRecord, ScheduleRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class SavedNotFound(DataflowRunnerError):
    """No saved playbook of that name."""


@dataclass(frozen=True)
class Saved:
    name: str
    playbook: Mapping[str, Any]
    cluster: Mapping[str, Any] | None
    pool: str | None
    variables: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    updated_by: str = ""
    playbook_name: str = ""


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise FlagError(
            f"'{name}' is not a saved playbook's name (letters, digits, '.', '_', '-'; "
            "at most 128 characters)"
        )


def validate(
    playbook: Mapping[str, Any], cluster: Mapping[str, Any] | None, variables: Mapping[str, str]
) -> str:
    """Check the documents as far as they can be without the variables of a run;
    the playbook's name ("" when it cannot be known yet)."""
    from dataflow_runner.config.loading import load_cluster
    from dataflow_runner.config.source import PlaybookSource

    errors: list[ConfigError] = []
    name = ""
    docs = Documents(playbook, cluster, variables)
    text = docs.playbook_text
    if "{{" not in text:
        source = PlaybookSource("playbook", variables, text=text)
        try:
            if source.head().partitions is None:
                name = source.load().name
            else:
                data = playbook.get("data")
                name = str(data.get("name", "")) if isinstance(data, Mapping) else ""
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    cluster_text = docs.cluster_text
    if cluster_text is not None and "{{" not in cluster_text:
        try:
            load_cluster("cluster", variables, text=cluster_text)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return name


def put(
    engine: Engine,
    keyring: Keyring,
    name: str,
    *,
    playbook: Mapping[str, Any],
    cluster: Mapping[str, Any] | None,
    pool: str | None,
    variables: Mapping[str, str],
    by: str,
    commit: str = "",
) -> tuple[Saved, bool]:
    """Create or replace a saved playbook; True when it is new."""
    check_name(name)
    if cluster is None and not pool:
        raise ConfigError("a saved playbook needs a cluster config or a pool", path="$.cluster")
    if cluster is not None and pool:
        raise ConfigError(
            "a saved playbook has a cluster config or a pool, not both", path="$.pool"
        )
    book_name = validate(playbook, cluster, variables)
    _check_schedule(playbook, variables)
    reader = engine.store.reader
    before = reader.saved(name)
    now = time.time()
    sealed = keyring.seal(
        {"playbook": dict(playbook), "cluster": dict(cluster) if cluster else None,
         "vars": dict(variables)}
    )  # fmt: skip
    record = SavedPlaybookRecord(
        name=name,
        payload=sealed,
        created_at=before.created_at if before is not None else now,
        updated_at=now,
        playbook=book_name,
        pool=pool or None,
        updated_by=by,
    )
    engine.writer.put_saved(record)
    kept = _opened(keyring, record)
    sync(engine, kept, commit=commit)
    return kept, before is None


def head_of(playbook: Mapping[str, Any], variables: Mapping[str, str]) -> Any:
    """The playbook's partitions, parameters and schedule (``config/source.py``)."""
    from dataflow_runner.config.source import PlaybookSource
    from dataflow_runner.engine.payload import Documents

    text = Documents(playbook, None, variables).playbook_text
    return PlaybookSource("playbook", variables, text=text).head()


def sync(engine: Engine, kept: Saved, *, commit: str = "") -> None:
    """After ``kept`` was saved: its schedule recorded (a changed one takes effect
    at its next tick), or forgotten when its playbook has none. The document's
    ``paused`` is applied each time it is saved."""
    head = head_of(kept.playbook, kept.variables)
    store = engine.store.scheduling
    schedule = head.schedule
    if schedule is None:
        store.delete_schedule(kept.name)
        return
    before = store.schedule(kept.name)
    now = time.time()
    store.put_schedule(
        ScheduleRecord(
            name=kept.name,
            playbook=kept.playbook_name,
            cron=schedule.cron,
            timezone=schedule.timezone,
            created_at=before.created_at if before is not None else engine.clock(),
            updated_at=now,
            paused=int(schedule.paused),
            git_commit=commit,
        )
    )


def _check_schedule(playbook: Mapping[str, Any], variables: Mapping[str, str]) -> None:
    """A schedule's cron, time zone and windows, checked when it is saved (even in a
    playbook whose templates are only rendered when it runs)."""
    try:
        head = head_of(playbook, variables)
    except ConfigError as exc:
        raise exc.with_file(exc.file or "playbook") from None
    if head.schedule is not None:
        from dataflow_runner.data.cron import check_schedule

        problems = [e.with_file("playbook") for e in check_schedule(head.schedule, head.partitions)]
        if problems:
            raise problems[0] if len(problems) == 1 else ConfigErrors(problems)


def get(engine: Engine, keyring: Keyring, name: str) -> Saved:
    # A name no saved playbook can have is not looked for (PostgreSQL refuses a NUL).
    record = engine.store.reader.saved(name) if _NAME.match(name) else None
    if record is None:
        raise SavedNotFound(f"no saved playbook '{name}'")
    return _opened(keyring, record)


def listed(engine: Engine, keyring: Keyring) -> list[Saved]:
    return [_opened(keyring, r) for r in engine.store.reader.saved_list()]


def delete(engine: Engine, name: str) -> None:
    """Forget a saved playbook, and its schedule (its runs' history stays)."""
    engine.store.scheduling.delete_schedule(name)
    if not engine.writer.delete_saved(name):
        raise SavedNotFound(f"no saved playbook '{name}'")


def submission(
    saved: Saved,
    variables: Mapping[str, str],
    *,
    by: str,
    lock: str | None = None,
    soft_lock: bool = False,
    fabric: str | None = None,
    partition: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> Submission:
    """A run of ``saved``: its default variables, overridden by ``variables``."""
    documents = Documents(saved.playbook, saved.cluster, {**saved.variables, **variables})
    return Submission(
        documents,
        lock=lock,
        soft_lock=soft_lock,
        fabric=fabric,
        partition=partition,
        from_=from_,
        to=to,
        submitted_by=by,
        saved=saved.name,
        pool=saved.pool if saved.cluster is None else None,
    )


def _opened(keyring: Keyring, record: SavedPlaybookRecord) -> Saved:
    doc = keyring.open(record.payload, what=f"saved playbook '{record.name}'")
    return Saved(
        name=record.name,
        playbook=doc["playbook"],
        cluster=doc.get("cluster"),
        pool=record.pool,
        variables=dict(doc.get("vars") or {}),
        created_at=record.created_at,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        playbook_name=record.playbook,
    )


def shown(value: Any) -> Any:
    """A document as a server shows it: secrets masked (by key, and by value)."""
    from dataflow_runner.config.redact import redact

    return redact(value)


def register_document_secrets(doc: Any, key: str = "") -> None:
    """The values under secret-looking keys of a document (credentials...) are
    masked in whatever this process shows."""
    from dataflow_runner.config.redact import SECRETS, is_secret_key

    if isinstance(doc, Mapping):
        for k, v in doc.items():
            register_document_secrets(v, str(k))
    elif isinstance(doc, list):
        for v in doc:
            register_document_secrets(v, key)
    elif isinstance(doc, str) and key and is_secret_key(key):
        SECRETS.add(doc)
