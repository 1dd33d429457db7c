"""The local fabric's section of a cluster config (``data.local``): how many steps
run at once on this machine, where, with which environment, and how EMR paths map
to local ones.

>>> LocalSection().work_dir, LocalSection().spark.master
('.', 'local[*]')
"""

from __future__ import annotations

from msgspec import field

from dataflow_runner.config.model import Concurrency, Env, Model, Text

#: This fabric's name in the registry (the key of its section).
NAME = "local"


class LocalSpark(Model, frozen=True, kw_only=True):
    """pyspark's spark-submit in local mode."""

    master: Text = "local[*]"
    conf: dict[Text, Text] = field(default_factory=dict)


class LocalSection(Model, frozen=True, kw_only=True):
    """The local fabric: steps run on this machine (every field has a default, so a
    config of this fabric may leave the section out)."""

    concurrency: Concurrency | None = None
    work_dir: Text = "."
    env: Env = field(default_factory=dict)
    path_mappings: dict[Text, Text] = field(default_factory=dict)
    spark: LocalSpark = LocalSpark()
