"""Checks a model cannot express: what the Go tool only found out late (at
request time, or from EMR's answer) is found here, before anything is sent.

Each check yields ConfigErrors addressed by JSON path, so ``validate`` can
report every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from dataflow_runner import dag
from dataflow_runner.config.spec import (
    ACTIONS_ON_FAILURE,
    ClusterConfig,
    KeyPair,
    Playbook,
    Step,
    StepType,
)
from dataflow_runner.config.validation import join_path
from dataflow_runner.errors import ConfigError, CycleError

if TYPE_CHECKING:
    from dataflow_runner.config.emr_models import EmrCluster

_PRICE = re.compile(r"^\d+(\.\d+)?$")
_RELEASE = re.compile(r"^\d+(\.\d+)*$")


def credentials(creds: KeyPair, *, file: str, path: str) -> Iterator[ConfigError]:
    """The Go tool's pairing rule: 'env', 'iam' (and 'default') go together."""
    a, s = creds.access_key_id, creds.secret_access_key
    for mode in ("iam", "env", "default"):
        if (a == mode) != (s == mode):
            yield ConfigError(
                f"access-key and secret-key must both be set to '{mode}', or neither",
                file=file,
                path=join_path(path, "credentials"),
            )
            return
    if creds.mode == "static" and (not a or not s):
        missing = "accessKeyId" if not a else "secretAccessKey"
        yield ConfigError(
            "a value is required when the other static key is set "
            "(or use 'env', 'iam' or 'default' for both)",
            file=file,
            path=join_path(join_path(path, "credentials"), missing),
        )


def emr_cluster(emr: EmrCluster, *, file: str, path: str) -> Iterator[ConfigError]:
    """What EMR's RunJobFlow would reject, or what the Go tool checks late."""
    yield from credentials(emr.credentials, file=file, path=path)
    ec2 = join_path(path, "ec2")
    ami = emr.ec2.ami_version
    if emr.release_label:
        if not re.match(r"^emr-\d+(\.\d+)*$", emr.release_label):
            yield ConfigError(
                f'expected a release label such as "emr-7.1.0", got "{emr.release_label}"',
                file=file,
                path=join_path(path, "releaseLabel"),
            )
    elif not ami:
        yield ConfigError(
            'a value is required (an EMR release such as "6.10.0")',
            file=file,
            path=join_path(ec2, "amiVersion"),
        )
    elif not _RELEASE.match(ami):
        yield ConfigError(
            f'expected an EMR release such as "6.10.0", got "{ami}"',
            file=file,
            path=join_path(ec2, "amiVersion"),
        )
    loc = emr.ec2.location
    if loc.classic is not None and loc.vpc is not None:
        yield ConfigError(
            "only one of classic (availability zone) and vpc (subnet id) may be given",
            file=file,
            path=join_path(ec2, "location"),
        )
    elif loc.classic is None and loc.vpc is None:
        yield ConfigError(
            "one of classic (availability zone) or vpc (subnet id) is required",
            file=file,
            path=join_path(ec2, "location"),
        )
    instances = join_path(ec2, "instances")
    groups = emr.ec2.instances
    if emr.ec2.instance_fleets:
        yield from _fleets(emr, file=file, path=join_path(ec2, "instanceFleets"))
    elif not groups.master.type:
        yield ConfigError(
            'a value is required (an instance type such as "m5.xlarge")',
            file=file,
            path=join_path(join_path(instances, "master"), "type"),
        )
    for role, group in (("core", groups.core), ("task", groups.task)):
        here = join_path(instances, role)
        if group.count < 0:
            yield ConfigError(
                f"expected a count >= 0, got {group.count}",
                file=file,
                path=join_path(here, "count"),
            )
        elif group.count > 0 and not group.type:
            yield ConfigError(
                f"a value is required when count is {group.count}",
                file=file,
                path=join_path(here, "type"),
            )
    bid = groups.task.bid
    if bid and not _PRICE.match(bid):
        yield ConfigError(
            f'expected a price in USD such as "0.015", got "{bid}"',
            file=file,
            path=join_path(join_path(instances, "task"), "bid"),
        )
    for i, action in enumerate(emr.bootstrap_action_configs):
        if not action.script_bootstrap_action.path:
            here = join_path(join_path(path, "bootstrapActionConfigs"), i)
            yield ConfigError(
                "a value is required",
                file=file,
                path=join_path(join_path(here, "scriptBootstrapAction"), "path"),
            )


def _fleets(emr: EmrCluster, *, file: str, path: str) -> Iterator[ConfigError]:
    roles = [f.role for f in emr.ec2.instance_fleets]
    if roles.count("MASTER") != 1:
        yield ConfigError("exactly one fleet with role MASTER is required", file=file, path=path)
    for role in ("CORE", "TASK"):
        if roles.count(role) > 1:
            yield ConfigError(f"at most one fleet with role {role}", file=file, path=path)
    for i, fleet in enumerate(emr.ec2.instance_fleets):
        here = join_path(path, i)
        if not fleet.instance_types:
            yield ConfigError(
                "a value is required: at least one instance type",
                file=file,
                path=join_path(here, "instanceTypes"),
            )
        if fleet.target_on_demand_capacity + fleet.target_spot_capacity <= 0:
            yield ConfigError(
                "targetOnDemandCapacity or targetSpotCapacity must be > 0", file=file, path=here
            )
        for j, itype in enumerate(fleet.instance_types):
            if not itype.type:
                yield ConfigError(
                    "a value is required",
                    file=file,
                    path=join_path(join_path(join_path(here, "instanceTypes"), j), "type"),
                )


def cluster(config: ClusterConfig, *, file: str, emr_path: str) -> Iterator[ConfigError]:
    if config.fabric == "emr":
        if config.emr is None:
            yield ConfigError(
                'an "emr" section is required when the fabric is emr', file=file, path="$.data.emr"
            )
        else:
            yield from emr_cluster(config.emr, file=file, path=emr_path)
    elif config.emr is not None:
        # An emr section on a local cluster is fine (it is used with --fabric emr),
        # but it must still be valid.
        yield from emr_cluster(config.emr, file=file, path=emr_path)


def _step(step: Step, *, file: str, path: str) -> Iterator[ConfigError]:
    if not step.name:
        yield ConfigError(
            "a value is required (every step needs a name)", file=file, path=join_path(path, "name")
        )
    required = {
        StepType.CUSTOM_JAR: ("jar", step.jar),
        StepType.COMMAND: ("command", step.command),
        StepType.SCRIPT: ("script", step.script),
        StepType.SPARK: ("application", step.application),
    }[step.type]
    if not required[1]:
        yield ConfigError(
            f"a value is required for a {step.type.value} step",
            file=file,
            path=join_path(path, required[0]),
        )


def playbook(
    book: Playbook, *, file: str, step_paths: Sequence[str] | None = None
) -> Iterator[ConfigError]:
    """Steps present and complete, credentials paired, dependencies a DAG."""
    yield from credentials(book.credentials, file=file, path="$.data")
    if not book.steps:
        yield ConfigError(
            "no steps found in the playbook, nothing to run", file=file, path="$.data.steps"
        )
        return
    paths = list(step_paths or [f"$.data.steps[{i}]" for i in range(len(book.steps))])
    for step, path in zip(book.steps, paths, strict=True):
        yield from _step(step, file=file, path=path)
    yield from dependencies(book, file=file, paths=paths)


def action_on_failure(value: str, *, file: str, path: str) -> Iterator[ConfigError]:
    if value not in ACTIONS_ON_FAILURE:
        yield ConfigError(
            f'expected one of {", ".join(ACTIONS_ON_FAILURE)}, got "{value}"'
            " (to terminate the cluster, use the 'down' command)",
            file=file,
            path=join_path(path, "actionOnFailure"),
        )


def dependencies(book: Playbook, *, file: str, paths: Sequence[str]) -> Iterator[ConfigError]:
    seen: dict[str, str] = {}
    ok = True
    for step, path in zip(book.steps, paths, strict=True):
        if step.id in seen:
            ok = False
            yield ConfigError(
                f"duplicate step id '{step.id}' (also at {seen[step.id]})",
                file=file,
                path=join_path(path, "id"),
            )
        seen.setdefault(step.id, path)
    for step, path in zip(book.steps, paths, strict=True):
        for field, ups in (("dependsOn", step.depends_on), ("after", step.after)):
            for i, up in enumerate(ups):
                if up not in seen:
                    ok = False
                    yield ConfigError(
                        f"unknown step id '{up}'",
                        file=file,
                        path=join_path(join_path(path, field), i),
                    )
                elif up == step.id:
                    ok = False
                    yield ConfigError(
                        "a step cannot depend on itself",
                        file=file,
                        path=join_path(join_path(path, field), i),
                    )
    if ok:
        try:
            dag.topological_order({s.id: s.upstream for s in book.steps})
        except CycleError as exc:
            yield CycleError(exc.message, file=file, path="$.data.steps")
