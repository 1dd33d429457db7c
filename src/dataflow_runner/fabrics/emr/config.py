"""The EMR fabric's section of a cluster config (``data.emr``): Snowplow's
ClusterConfig record plus this project's extensions, the checks EMR would only make
at RunJobFlow time, and the reader of Snowplow's ClusterConfig format.

Imported only when a config has an EMR section (or is Snowplow's), through the
fabric registry: a local run never loads it.

>>> section = EmrSection(ec2=Ec2(ami_version="6.10.0", location=Location(vpc=Vpc(subnet_id="s"))))
>>> [e.message for e in section.check(file="c.json", path="$.data")]
['a value is required (an instance type such as "m5.xlarge")']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from msgspec import Meta, field

from dataflow_runner.config.checks import credentials
from dataflow_runner.config.model import ClusterConfig, Credentials, Model, Tag
from dataflow_runner.config.validation import join_path, raise_all, validate
from dataflow_runner.errors import ConfigError

#: This fabric's name in the registry (the key of its section).
NAME = "emr"

_PRICE = re.compile(r"^\d+(\.\d+)?$")
_RELEASE = re.compile(r"^\d+(\.\d+)*$")
_RELEASE_LABEL = re.compile(r"^emr-\d+(\.\d+)*$")

# Bounds wide enough for any real cluster, narrow enough to catch a slipped digit.
Count = Annotated[int, Meta(ge=0, le=10_000, extra={"noun": "a count"})]
Capacity = Annotated[int, Meta(ge=0, le=100_000)]
Volumes = Annotated[int, Meta(ge=0, le=100)]
SizeGiB = Annotated[int, Meta(ge=0, le=65_536)]
Iops = Annotated[int, Meta(ge=0, le=1_000_000)]
Percentage = Annotated[float, Meta(ge=0, le=1_000)]
Minutes = Annotated[int, Meta(ge=0, le=10_080, extra={"max": "a week"})]
IdleSeconds = Annotated[int, Meta(ge=0, le=604_800, extra={"max": "a week"})]
StepConcurrency = Annotated[int, Meta(ge=0, le=256)]


class VolumeSpecification(Model, frozen=True, kw_only=True):
    iops: Iops = 0
    size_in_gb: SizeGiB = field(default=0, name="sizeInGB")
    volume_type: str = ""


class EbsBlockDeviceConfig(Model, frozen=True, kw_only=True):
    volumes_per_instance: Volumes = 0
    volume_specification: VolumeSpecification = VolumeSpecification()


class EbsConfiguration(Model, frozen=True, kw_only=True):
    ebs_optimized: bool = False
    ebs_block_device_configs: tuple[EbsBlockDeviceConfig, ...] = ()


class MasterInstances(Model, frozen=True, kw_only=True):
    type: str = ""
    ebs_configuration: EbsConfiguration | None = None


class CoreInstances(Model, frozen=True, kw_only=True):
    type: str = ""
    count: Count = 0
    ebs_configuration: EbsConfiguration | None = None


class TaskInstances(Model, frozen=True, kw_only=True):
    type: str = ""
    count: Count = 0
    bid: str = ""
    ebs_configuration: EbsConfiguration | None = None


class Instances(Model, frozen=True, kw_only=True):
    master: MasterInstances = MasterInstances()
    core: CoreInstances = CoreInstances()
    task: TaskInstances = TaskInstances()


class Classic(Model, frozen=True, kw_only=True):
    availability_zone: str = ""


class Vpc(Model, frozen=True, kw_only=True):
    subnet_id: str = ""
    # Instance fleets may choose among several subnets.
    subnet_ids: tuple[str, ...] = ()


class Location(Model, frozen=True, kw_only=True):
    classic: Classic | None = None
    vpc: Vpc | None = None


class InstanceTypeConfig(Model, frozen=True, kw_only=True):
    type: str = ""
    weighted_capacity: Capacity = 0
    bid_price: str = ""
    bid_price_as_percentage_of_on_demand_price: Percentage = 0.0
    ebs_configuration: EbsConfiguration | None = None


class SpotSpecification(Model, frozen=True, kw_only=True):
    allocation_strategy: str = ""  # e.g. capacity-optimized, price-capacity-optimized
    timeout_duration_minutes: Minutes = 0
    timeout_action: str = ""  # SWITCH_TO_ON_DEMAND | TERMINATE_CLUSTER


class OnDemandSpecification(Model, frozen=True, kw_only=True):
    allocation_strategy: str = ""  # lowest-price | prioritized


class InstanceFleet(Model, frozen=True, kw_only=True):
    """An instance fleet (this project's extension): spot and on-demand targets."""

    role: Literal["MASTER", "CORE", "TASK"] = "MASTER"
    name: str = ""
    target_on_demand_capacity: Capacity = 0
    target_spot_capacity: Capacity = 0
    instance_types: tuple[InstanceTypeConfig, ...] = ()
    spot: SpotSpecification | None = None
    on_demand: OnDemandSpecification | None = None


class Ec2(Model, frozen=True, kw_only=True):
    ami_version: str = ""
    key_name: str = ""
    location: Location = Location()
    instances: Instances = Instances()
    # This project's extensions:
    instance_fleets: tuple[InstanceFleet, ...] = ()
    additional_master_security_groups: tuple[str, ...] = ()
    additional_slave_security_groups: tuple[str, ...] = ()


class Roles(Model, frozen=True, kw_only=True):
    jobflow: str = ""
    service: str = ""


class ScriptBootstrapAction(Model, frozen=True, kw_only=True):
    path: str = ""
    args: tuple[str, ...] = ()


class BootstrapAction(Model, frozen=True, kw_only=True):
    name: str = ""
    script_bootstrap_action: ScriptBootstrapAction = ScriptBootstrapAction()


class Configuration(Model, frozen=True, kw_only=True):
    """An EMR configuration classification; nested ``configurations`` are kept
    (the Go tool's Avro schema drops them, EMR accepts them)."""

    classification: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    configurations: tuple[Configuration, ...] = ()


class ManagedScaling(Model, frozen=True, kw_only=True):
    unit_type: Literal["Instances", "InstanceFleetUnits", "VCPU"] = "Instances"
    minimum_capacity_units: Capacity = 0
    maximum_capacity_units: Capacity = 0
    maximum_on_demand_capacity_units: Capacity = 0
    maximum_core_capacity_units: Capacity = 0


class EmrSection(Model, frozen=True, kw_only=True):
    """The EMR machine settings: Snowplow's ClusterConfig ``data`` record, plus
    this project's extensions (release label, fleets, scaling, idle termination...)."""

    name: str = ""
    log_uri: str = ""
    region: str = ""
    credentials: Credentials = Credentials()
    roles: Roles = Roles()
    ec2: Ec2 = Ec2()
    tags: tuple[Tag, ...] = ()
    bootstrap_action_configs: tuple[BootstrapAction, ...] = ()
    configurations: tuple[Configuration, ...] = ()
    applications: tuple[str, ...] = ()
    security_configuration: str = ""
    # This project's extensions:
    release_label: str = ""  # e.g. emr-7.1.0 (instead of amiVersion)
    step_concurrency_level: StepConcurrency = 0
    auto_termination_idle_seconds: IdleSeconds = 0
    ebs_root_volume_size: Annotated[int, Meta(ge=0, le=16_384)] = 0
    custom_ami_id: str = ""
    managed_scaling: ManagedScaling | None = None

    def check(self, *, file: str, path: str) -> Iterator[ConfigError]:
        """What EMR's RunJobFlow would reject, or what the Go tool checks late."""
        yield from credentials(self.credentials, file=file, path=path)
        yield from _release(self, file=file, path=path)
        yield from _machines(self, file=file, path=join_path(path, "ec2"))
        for i, action in enumerate(self.bootstrap_action_configs):
            if not action.script_bootstrap_action.path:
                here = join_path(join_path(path, "bootstrapActionConfigs"), i)
                yield ConfigError(
                    "a value is required",
                    file=file,
                    path=join_path(join_path(here, "scriptBootstrapAction"), "path"),
                )


def _release(emr: EmrSection, *, file: str, path: str) -> Iterator[ConfigError]:
    ami, ec2 = emr.ec2.ami_version, join_path(path, "ec2")
    if emr.release_label:
        if not _RELEASE_LABEL.match(emr.release_label):
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


def _machines(emr: EmrSection, *, file: str, path: str) -> Iterator[ConfigError]:
    loc = emr.ec2.location
    if loc.classic is not None and loc.vpc is not None:
        yield ConfigError(
            "only one of classic (availability zone) and vpc (subnet id) may be given",
            file=file,
            path=join_path(path, "location"),
        )
    elif loc.classic is None and loc.vpc is None:
        yield ConfigError(
            "one of classic (availability zone) or vpc (subnet id) is required",
            file=file,
            path=join_path(path, "location"),
        )
    instances = join_path(path, "instances")
    groups = emr.ec2.instances
    if emr.ec2.instance_fleets:
        yield from _fleets(emr, file=file, path=join_path(path, "instanceFleets"))
    elif not groups.master.type:
        yield ConfigError(
            'a value is required (an instance type such as "m5.xlarge")',
            file=file,
            path=join_path(join_path(instances, "master"), "type"),
        )
    for role, group in (("core", groups.core), ("task", groups.task)):
        if group.count > 0 and not group.type:
            yield ConfigError(
                f"a value is required when count is {group.count}",
                file=file,
                path=join_path(join_path(instances, role), "type"),
            )
    bid = groups.task.bid
    if bid and not _PRICE.match(bid):
        yield ConfigError(
            f'expected a price in USD such as "0.015", got "{bid}"',
            file=file,
            path=join_path(join_path(instances, "task"), "bid"),
        )


def _fleets(emr: EmrSection, *, file: str, path: str) -> Iterator[ConfigError]:
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


def from_snowplow(data: Any, path: str, uri: str) -> ClusterConfig:
    """A cluster config from Snowplow's ClusterConfig record (its ``data``), read
    as the Go tool reads it: unknown fields ignored, ``null`` as the zero value.
    Its relative paths (none today) would start from the working directory."""
    emr, errors = validate(EmrSection, data, file=path, root="$.data", closed=False)
    if emr is not None:
        errors.extend(emr.check(file=path, path="$.data"))
    raise_all(errors)
    assert emr is not None
    return ClusterConfig(
        name=emr.name, fabric=NAME, sections={NAME: emr}, schema_uri=uri, base_dir=os.getcwd()
    )
