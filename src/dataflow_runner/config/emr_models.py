"""The EMR machine settings: Snowplow's ClusterConfig record and this project's
extensions. Imported only when a config has EMR settings (pydantic model
classes cost start-up time, and a local run needs none of these).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dataflow_runner.config.models import Bool, Credentials, Float, Int, Model, Str, Tag


class VolumeSpecification(Model):
    iops: Int = 0
    size_in_gb: Int = Field(0, alias="sizeInGB")
    volume_type: Str = ""


class EbsBlockDeviceConfig(Model):
    volumes_per_instance: Int = 0
    volume_specification: VolumeSpecification = VolumeSpecification()


class EbsConfiguration(Model):
    ebs_optimized: Bool = False
    ebs_block_device_configs: tuple[EbsBlockDeviceConfig, ...] = ()


class MasterInstances(Model):
    type: Str = ""
    ebs_configuration: EbsConfiguration | None = None


class CoreInstances(Model):
    type: Str = ""
    count: Int = 0
    ebs_configuration: EbsConfiguration | None = None


class TaskInstances(Model):
    type: Str = ""
    count: Int = 0
    bid: Str = ""
    ebs_configuration: EbsConfiguration | None = None


class Instances(Model):
    master: MasterInstances = MasterInstances()
    core: CoreInstances = CoreInstances()
    task: TaskInstances = TaskInstances()


class Classic(Model):
    availability_zone: Str = ""


class Vpc(Model):
    subnet_id: Str = ""
    # Instance fleets may choose among several subnets.
    subnet_ids: tuple[Str, ...] = ()


class Location(Model):
    classic: Classic | None = None
    vpc: Vpc | None = None


class InstanceTypeConfig(Model):
    type: Str = ""
    weighted_capacity: Int = 0
    bid_price: Str = ""
    bid_price_as_percentage_of_on_demand_price: Float = 0.0
    ebs_configuration: EbsConfiguration | None = None


class SpotSpecification(Model):
    allocation_strategy: Str = ""  # e.g. capacity-optimized, price-capacity-optimized
    timeout_duration_minutes: Int = 0
    timeout_action: Str = ""  # SWITCH_TO_ON_DEMAND | TERMINATE_CLUSTER


class OnDemandSpecification(Model):
    allocation_strategy: Str = ""  # lowest-price | prioritized


class InstanceFleet(Model):
    """An instance fleet (this project's extension): spot and on-demand targets."""

    role: Literal["MASTER", "CORE", "TASK"] = "MASTER"
    name: Str = ""
    target_on_demand_capacity: Int = 0
    target_spot_capacity: Int = 0
    instance_types: tuple[InstanceTypeConfig, ...] = ()
    spot: SpotSpecification | None = None
    on_demand: OnDemandSpecification | None = None


class Ec2(Model):
    ami_version: Str = ""
    key_name: Str = ""
    location: Location = Location()
    instances: Instances = Instances()
    # This project's extensions:
    instance_fleets: tuple[InstanceFleet, ...] = ()
    additional_master_security_groups: tuple[Str, ...] = ()
    additional_slave_security_groups: tuple[Str, ...] = ()


class Roles(Model):
    jobflow: Str = ""
    service: Str = ""


class ScriptBootstrapAction(Model):
    path: Str = ""
    args: tuple[Str, ...] = ()


class BootstrapAction(Model):
    name: Str = ""
    script_bootstrap_action: ScriptBootstrapAction = ScriptBootstrapAction()


class Configuration(Model):
    """An EMR configuration classification; nested ``configurations`` are kept
    (the Go tool's Avro schema drops them, EMR accepts them)."""

    classification: Str = ""
    properties: dict[str, Str] = Field(default_factory=dict)
    configurations: tuple[Configuration, ...] = ()


class ManagedScaling(Model):
    unit_type: Literal["Instances", "InstanceFleetUnits", "VCPU"] = "Instances"
    minimum_capacity_units: Int = 0
    maximum_capacity_units: Int = 0
    maximum_on_demand_capacity_units: Int = 0
    maximum_core_capacity_units: Int = 0


class EmrCluster(Model):
    """The EMR machine settings: Snowplow's ClusterConfig ``data`` record, plus
    this project's extensions (release label, fleets, scaling, idle termination...)."""

    name: Str = ""
    log_uri: Str = ""
    region: Str = ""
    credentials: Credentials = Credentials()
    roles: Roles = Roles()
    ec2: Ec2 = Ec2()
    tags: tuple[Tag, ...] = ()
    bootstrap_action_configs: tuple[BootstrapAction, ...] = ()
    configurations: tuple[Configuration, ...] = ()
    applications: tuple[Str, ...] = ()
    security_configuration: Str = ""
    # This project's extensions:
    release_label: Str = ""  # e.g. emr-7.1.0 (instead of amiVersion)
    step_concurrency_level: Int = Field(0, ge=0, le=256)
    auto_termination_idle_seconds: Int = Field(0, ge=0)
    ebs_root_volume_size: Int = Field(0, ge=0)
    custom_ami_id: Str = ""
    managed_scaling: ManagedScaling | None = None
