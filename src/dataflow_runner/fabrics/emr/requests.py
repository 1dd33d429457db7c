"""EMR requests as pure functions of the models (boto3 parameter names).

What ``--dry-run`` prints is exactly what is sent: the EMR fabric calls these
and passes the result to boto3 unchanged.

>>> from dataflow_runner.fabrics.emr import requests  # doctest: +SKIP
>>> requests.terminate_job_flows("j-2DPBXD87LSGP9")
{'JobFlowIds': ['j-2DPBXD87LSGP9']}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dataflow_runner.config.model import KeyValue, Step, StepType
from dataflow_runner.fabrics.emr.config import Configuration, EbsConfiguration, EmrSection

COMMAND_RUNNER = "command-runner.jar"
DEFAULT_REGION = "us-east-1"
# Volume types whose IOPS are implied by their size: EMR rejects an Iops for them.
_NO_IOPS = frozenset({"gp2", "gp3", "standard", "st1", "sc1", ""})

Request = dict[str, Any]


def script_runner(region: str) -> str:
    """EMR's script-runner.jar lives in a per-region bucket."""
    return f"s3://{region or DEFAULT_REGION}.elasticmapreduce/libs/script-runner/script-runner.jar"


def release(ami_version: str) -> dict[str, str]:
    """AMI versions before 4 are ``AmiVersion``; later ones ``ReleaseLabel=emr-X``."""
    major = ami_version.split(".", 1)[0]
    if major.isdigit() and int(major) < 4:
        return {"AmiVersion": ami_version}
    return {"ReleaseLabel": f"emr-{ami_version}"}


def _ebs(config: EbsConfiguration) -> Request:
    devices = []
    for device in config.ebs_block_device_configs:
        spec = device.volume_specification
        volume: Request = {"VolumeType": spec.volume_type, "SizeInGB": spec.size_in_gb}
        if spec.volume_type not in _NO_IOPS and spec.iops:
            volume["Iops"] = spec.iops
        entry: Request = {"VolumeSpecification": volume}
        if device.volumes_per_instance:
            entry["VolumesPerInstance"] = device.volumes_per_instance
        devices.append(entry)
    out: Request = {"EbsOptimized": config.ebs_optimized}
    if devices:
        out["EbsBlockDeviceConfigs"] = devices
    return out


def instance_groups(emr: EmrSection) -> list[Request]:
    """MASTER (1), CORE (count), TASK (count, SPOT when a bid is set); empty groups left out."""
    groups = emr.ec2.instances
    master: Request = {
        "InstanceRole": "MASTER",
        "InstanceType": groups.master.type,
        "InstanceCount": 1,
    }
    if groups.master.ebs_configuration is not None:
        master["EbsConfiguration"] = _ebs(groups.master.ebs_configuration)
    out = [master]
    if groups.core.count > 0:
        core: Request = {
            "InstanceRole": "CORE",
            "InstanceType": groups.core.type,
            "InstanceCount": groups.core.count,
        }
        if groups.core.ebs_configuration is not None:
            core["EbsConfiguration"] = _ebs(groups.core.ebs_configuration)
        out.append(core)
    if groups.task.count > 0:
        task: Request = {
            "InstanceRole": "TASK",
            "InstanceType": groups.task.type,
            "InstanceCount": groups.task.count,
        }
        if groups.task.bid:
            task["Market"] = "SPOT"
            task["BidPrice"] = groups.task.bid
        if groups.task.ebs_configuration is not None:
            task["EbsConfiguration"] = _ebs(groups.task.ebs_configuration)
        out.append(task)
    return out


def instance_fleets(emr: EmrSection) -> list[Request]:
    """Instance fleets (this project's extension) with their spot/on-demand targets."""
    out = []
    for fleet in emr.ec2.instance_fleets:
        entry: Request = {"InstanceFleetType": fleet.role}
        if fleet.name:
            entry["Name"] = fleet.name
        if fleet.target_on_demand_capacity:
            entry["TargetOnDemandCapacity"] = fleet.target_on_demand_capacity
        if fleet.target_spot_capacity:
            entry["TargetSpotCapacity"] = fleet.target_spot_capacity
        types = []
        for t in fleet.instance_types:
            item: Request = {"InstanceType": t.type}
            if t.weighted_capacity:
                item["WeightedCapacity"] = t.weighted_capacity
            if t.bid_price:
                item["BidPrice"] = t.bid_price
            if t.bid_price_as_percentage_of_on_demand_price:
                item["BidPriceAsPercentageOfOnDemandPrice"] = (
                    t.bid_price_as_percentage_of_on_demand_price
                )
            if t.ebs_configuration is not None:
                item["EbsConfiguration"] = _ebs(t.ebs_configuration)
            types.append(item)
        entry["InstanceTypeConfigs"] = types
        specs: Request = {}
        if fleet.spot is not None:
            spot: Request = {}
            if fleet.spot.timeout_duration_minutes:
                spot["TimeoutDurationMinutes"] = fleet.spot.timeout_duration_minutes
                spot["TimeoutAction"] = fleet.spot.timeout_action or "SWITCH_TO_ON_DEMAND"
            if fleet.spot.allocation_strategy:
                spot["AllocationStrategy"] = fleet.spot.allocation_strategy
            specs["SpotSpecification"] = spot
        if fleet.on_demand is not None and fleet.on_demand.allocation_strategy:
            specs["OnDemandSpecification"] = {
                "AllocationStrategy": fleet.on_demand.allocation_strategy
            }
        if specs:
            entry["LaunchSpecifications"] = specs
        out.append(entry)
    return out


def _configurations(configs: Sequence[Configuration]) -> list[Request]:
    out = []
    for c in configs:
        entry: Request = {"Classification": c.classification, "Properties": dict(c.properties)}
        if c.configurations:
            entry["Configurations"] = _configurations(c.configurations)
        out.append(entry)
    return out


def tags(own: Iterable[KeyValue], extra: Mapping[str, str] | None = None) -> list[Request]:
    out = [{"Key": t.key, "Value": t.value} for t in own]
    keys = {t["Key"] for t in out}
    out.extend({"Key": k, "Value": v} for k, v in (extra or {}).items() if k not in keys)
    return out


def run_job_flow(
    emr: EmrSection,
    *,
    keep_alive: bool,
    steps: Sequence[Step] = (),
    region: str = "",
    extra_tags: Mapping[str, str] | None = None,
) -> Request:
    """RunJobFlow: ``up`` (keep-alive, no steps) or ``run-transient`` (steps, no keep-alive)."""
    ec2 = emr.ec2
    instances: Request = (
        {"InstanceFleets": instance_fleets(emr)}
        if ec2.instance_fleets
        else {"InstanceGroups": instance_groups(emr)}
    )
    if ec2.key_name:
        instances["Ec2KeyName"] = ec2.key_name
    location = ec2.location
    if location.vpc is not None and location.vpc.subnet_ids:
        instances["Ec2SubnetIds"] = list(location.vpc.subnet_ids)
    elif location.vpc is not None and location.vpc.subnet_id:
        instances["Ec2SubnetId"] = location.vpc.subnet_id
    elif location.classic is not None and location.classic.availability_zone:
        instances["Placement"] = {"AvailabilityZone": location.classic.availability_zone}
    if ec2.additional_master_security_groups:
        instances["AdditionalMasterSecurityGroups"] = list(ec2.additional_master_security_groups)
    if ec2.additional_slave_security_groups:
        instances["AdditionalSlaveSecurityGroups"] = list(ec2.additional_slave_security_groups)
    instances["KeepJobFlowAliveWhenNoSteps"] = keep_alive

    request: Request = {"Name": emr.name}
    if emr.log_uri:
        request["LogUri"] = emr.log_uri
    request.update(
        {"ReleaseLabel": emr.release_label} if emr.release_label else release(ec2.ami_version)
    )
    request["Instances"] = instances
    if steps:
        request["Steps"] = step_configs(steps, region=region or emr.region)
    if emr.bootstrap_action_configs:
        request["BootstrapActions"] = [
            {
                "Name": b.name,
                "ScriptBootstrapAction": {
                    "Path": b.script_bootstrap_action.path,
                    "Args": list(b.script_bootstrap_action.args),
                },
            }
            for b in emr.bootstrap_action_configs
        ]
    if emr.applications:
        request["Applications"] = [{"Name": a} for a in emr.applications]
    if emr.configurations:
        request["Configurations"] = _configurations(emr.configurations)
    request["VisibleToAllUsers"] = True
    if emr.roles.jobflow:
        request["JobFlowRole"] = emr.roles.jobflow
    if emr.roles.service:
        request["ServiceRole"] = emr.roles.service
    all_tags = tags(emr.tags, extra_tags)
    if all_tags:
        request["Tags"] = all_tags
    if emr.security_configuration:
        request["SecurityConfiguration"] = emr.security_configuration
    if emr.step_concurrency_level:
        request["StepConcurrencyLevel"] = emr.step_concurrency_level
    if emr.auto_termination_idle_seconds:
        request["AutoTerminationPolicy"] = {"IdleTimeout": emr.auto_termination_idle_seconds}
    if emr.ebs_root_volume_size:
        request["EbsRootVolumeSize"] = emr.ebs_root_volume_size
    if emr.custom_ami_id:
        request["CustomAmiId"] = emr.custom_ami_id
    if emr.managed_scaling is not None:
        scaling = emr.managed_scaling
        limits: Request = {
            "UnitType": scaling.unit_type,
            "MinimumCapacityUnits": scaling.minimum_capacity_units,
            "MaximumCapacityUnits": scaling.maximum_capacity_units,
        }
        if scaling.maximum_on_demand_capacity_units:
            limits["MaximumOnDemandCapacityUnits"] = scaling.maximum_on_demand_capacity_units
        if scaling.maximum_core_capacity_units:
            limits["MaximumCoreCapacityUnits"] = scaling.maximum_core_capacity_units
        request["ManagedScalingPolicy"] = {"ComputeLimits": limits}
    return request


def hadoop_jar_step(step: Step, *, region: str) -> Request:
    """The jar and arguments that run ``step`` on EMR."""
    if step.type is StepType.CUSTOM_JAR:
        return {"Jar": step.jar, "Args": list(step.arguments)}
    if step.type is StepType.COMMAND:
        args = list(step.command)
    elif step.type is StepType.SCRIPT:
        return {"Jar": script_runner(region), "Args": [step.script, *step.args]}
    else:
        args = ["spark-submit", "--deploy-mode", "cluster"]
        if step.main_class:
            args += ["--class", step.main_class]
        for key, value in step.conf.items():
            args += ["--conf", f"{key}={value}"]
        if step.py_files:
            args += ["--py-files", ",".join(step.py_files)]
        if step.packages:
            args += ["--packages", ",".join(step.packages)]
        args += [step.application, *step.args]
    if step.env:
        # command-runner.jar runs a command line; env(1) sets the step's variables.
        args = ["env", *(f"{k}={v}" for k, v in step.env.items()), *args]
    return {"Jar": COMMAND_RUNNER, "Args": args}


def step_config(step: Step, *, region: str) -> Request:
    return {
        "Name": step.name,
        "ActionOnFailure": step.action_on_failure,
        "HadoopJarStep": hadoop_jar_step(step, region=region),
    }


def step_configs(steps: Iterable[Step], *, region: str) -> list[Request]:
    return [step_config(s, region=region) for s in steps]


def add_job_flow_steps(jobflow_id: str, steps: Sequence[Step], *, region: str) -> Request:
    """AddJobFlowSteps: ``run`` adds the playbook's steps to a running cluster."""
    return {"JobFlowId": jobflow_id, "Steps": step_configs(steps, region=region)}


def terminate_job_flows(jobflow_id: str) -> Request:
    """TerminateJobFlows: ``down``."""
    return {"JobFlowIds": [jobflow_id]}


TOOL_TAG = "dataflow-runner:tool"
RUN_TAG = "dataflow-runner:run-id"
MODE_TAG = "dataflow-runner:mode"


def tool_tags(run_id: str, *, transient: bool) -> dict[str, str]:
    """Tags on every cluster this tool creates, so orphans can be found."""
    out = {TOOL_TAG: "dataflow-runner", MODE_TAG: "transient" if transient else "persistent"}
    if run_id:
        out[RUN_TAG] = run_id
    return out


def launch(
    emr: EmrSection,
    *,
    run_id: str,
    transient: bool,
    keep_alive: bool,
    steps: Sequence[Step] = (),
    region: str = "",
    concurrency: int = 1,
) -> Request:
    """The RunJobFlow this tool sends: ``up`` (persistent, keep-alive) or a
    transient run (steps attached, or an empty cluster the engine feeds)."""
    request = run_job_flow(
        emr,
        keep_alive=keep_alive,
        steps=steps,
        region=region,
        extra_tags=tool_tags(run_id, transient=transient),
    )
    if concurrency > 1:
        request["StepConcurrencyLevel"] = min(256, concurrency)
    return request
