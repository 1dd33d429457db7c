"""The fabric registry: every fabric by name, imported only when it is used.

A fabric is one package under ``fabrics/`` plus one line in :data:`_BUILTIN`
(or one :func:`register` call, for a fabric defined elsewhere: a plugin, the
tests). The entry names, as import strings, what the rest of the tool needs
without importing the fabric itself (mrjob's runner-by-alias is the model):

* ``driver``: the class implementing :class:`~dataflow_runner.fabrics.base.Driver`
  (clusters, steps, logs, plans), imported on first use;
* ``section``: the type of the fabric's section of a cluster config
  (``data.<name>``), validated with the rest of the config;
* ``cluster_ids``: the cluster ids it owns (``run --emr-cluster ID`` finds the
  fabric by its id); a fabric marked ``claims_other_ids`` takes any id no
  other fabric claims (none does: an id no fabric owns is a typo, found before
  anything is sent);
* ``formats``: other cluster-config formats it reads, each with the function
  that turns that format's data into a cluster config (Snowplow's EMR config).

No module outside ``fabrics/`` names a fabric: they ask this registry.

>>> names()
('local', 'emr')
>>> for_cluster_id("l-ABCDEFGHIJKLM").name
'local'
>>> for_cluster_id("j-2AXXXXXXGAPLF").name
'emr'
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from dataflow_runner.errors import ConfigError

if TYPE_CHECKING:
    from dataflow_runner.fabrics.base import Driver


@dataclass(frozen=True)
class ConfigFormat:
    """A cluster-config format a fabric reads besides this project's own: the iglu
    vendor, name, format and model (major version), the versions it was written
    against, and ``reader`` (``"module:function"``, ``function(data, path, uri)``
    returning a ``ClusterConfig``)."""

    vendor: str
    name: str
    format: str
    model: str
    known: tuple[str, ...]
    reader: str


@dataclass(frozen=True)
class FabricEntry:
    """One fabric, as import strings (see the module's docstring)."""

    name: str
    driver: str
    section: str
    cluster_ids: str = ""
    claims_other_ids: bool = False
    id_example: str = ""  # a cluster id it owns, for messages
    formats: tuple[ConfigFormat, ...] = ()

    def owns(self, cluster_id: str) -> bool:
        return bool(self.cluster_ids) and re.fullmatch(self.cluster_ids, cluster_id) is not None


_BUILTIN = (
    FabricEntry(
        "local",
        driver="dataflow_runner.fabrics.local.driver:LocalDriver",
        section="dataflow_runner.fabrics.local.config:LocalSection",
        cluster_ids=r"l-[A-Z2-7]{13}",
        id_example="l-ABCDEFGHIJKLM",
    ),
    FabricEntry(
        "emr",
        driver="dataflow_runner.fabrics.emr.driver:EmrDriver",
        section="dataflow_runner.fabrics.emr.config:EmrSection",
        # EMR's ids (at most 256 characters); anything else is a typo, found before
        # any call to AWS.
        cluster_ids=r"j-[A-Z0-9]{1,254}",
        id_example="j-2AXXXXXXGAPLF",
        formats=(
            ConfigFormat(
                "com.snowplowanalytics.dataflowrunner",
                "ClusterConfig",
                "avro",
                "1",
                ("1-0-0", "1-1-0"),
                "dataflow_runner.fabrics.emr.config:from_snowplow",
            ),
        ),
    ),
)

#: The fabric of a cluster config that names none: this machine.
DEFAULT = "local"

_ENTRIES: dict[str, FabricEntry] = {e.name: e for e in _BUILTIN}


def register(entry: FabricEntry) -> None:
    """Add (or replace) a fabric. Its modules are imported only when it is used.

    >>> register(FabricEntry("dummy", driver="mypkg.driver:Driver",
    ...                      section="mypkg.config:Section"))  # doctest: +SKIP
    """
    _ENTRIES[entry.name] = entry
    _load.cache_clear()


def unregister(name: str) -> None:
    """Remove a fabric added with :func:`register` (tests)."""
    if name in {e.name for e in _BUILTIN}:
        raise ValueError(f"fabric {name!r} is built in")
    _ENTRIES.pop(name, None)
    _load.cache_clear()


def names() -> tuple[str, ...]:
    """Every registered fabric, built-in ones first."""
    return tuple(_ENTRIES)


def entry(name: str) -> FabricEntry:
    """The entry of fabric ``name``; an unknown name is a one-line error."""
    found = _ENTRIES.get(name)
    if found is None:
        known = " or ".join(f"'{n}'" for n in names())
        raise ConfigError(f"unknown fabric {name!r}; expected {known}")
    return found


def for_cluster_id(cluster_id: str) -> FabricEntry:
    """The fabric that owns a cluster id (``run --emr-cluster ID``)."""
    for candidate in _ENTRIES.values():
        if candidate.owns(cluster_id):
            return candidate
    for candidate in _ENTRIES.values():
        if candidate.claims_other_ids:
            return candidate
    shown = cluster_id if len(cluster_id) <= 40 else cluster_id[:40] + "..."
    examples = " or ".join(f"{e.id_example} ({e.name})" for e in _ENTRIES.values() if e.id_example)
    raise ConfigError(
        f"no fabric knows the cluster id {shown!r}"
        + (f": expected e.g. {examples}" if examples else "")
    )


def formats() -> list[tuple[FabricEntry, ConfigFormat]]:
    """The other cluster-config formats the fabrics read."""
    return [(e, f) for e in _ENTRIES.values() for f in e.formats]


def driver(name: str) -> Driver:
    """The driver of fabric ``name`` (its package is imported now, once)."""
    found: Driver = _load(entry(name).driver)()
    return found


def section_type(name: str) -> Any:
    """The type of fabric ``name``'s cluster-config section."""
    return _load(entry(name).section)


def load(target: str) -> Any:
    """The object an import string ``"package.module:attribute"`` names."""
    return _load(target)


@cache
def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
