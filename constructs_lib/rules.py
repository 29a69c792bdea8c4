"""Rules across a training job's props that the SageMaker API model cannot express.

(The model's own constraints are checked on the rendered request, in ``validation``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, Size, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from .channel import Channel, FileSystemLocation
from .completion import MAX_WAIT, STARTUP_MARGIN
from .errors import Problems
from .image import TrainingImage
from .instance_group import InstanceGroup
from .instance_types import has_local_nvme_storage
from .naming import is_valid_job_name
from .prop_types import labeled
from .validation import RESERVED_TAGS, TAG_LIMIT

# SageMaker's documented maximum runtime of a training job (the API model states no maximum).
MAX_RUNTIME_SECONDS = 28 * 24 * 3600


def prop_problems(
    problems: Problems,
    *,
    image: TrainingImage | None,
    algorithm_name: str | None,
    serverless: bool,
    hyperparameters: Mapping[str, Any],
    instance_types: Sequence[str],
    instance_type: str | None,
    instance_count: int | None,
    instance_groups: Sequence[InstanceGroup],
    volume_size: Size | None,
    volume_kms_key: kms.IKey | None,
    inputs: Sequence[Channel],
    max_runtime_seconds: int,
    enable_managed_spot_training: bool,
    max_wait: Duration | None,
    tags: Mapping[str, str],
    training_job_name: str | None,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
) -> None:
    """Adds a problem for each rule the props break."""
    if (image is None) == (algorithm_name is None) and not serverless:
        problems.add(
            "image / algorithm_name (AlgorithmSpecification.TrainingImage / AlgorithmName)",
            {"image": image, "algorithm_name": algorithm_name},
            "set exactly one of them",
        )
    for key, value in hyperparameters.items():
        if not isinstance(value, str | int | float | bool):
            problems.add(
                f"hyperparameters[{key!r}] (HyperParameters)",
                value,
                "str, int, float or bool (lists, dicts and None only in script mode: source_code on a framework "
                "image, where they are JSON-encoded as the SageMaker Python SDK encodes them)",
            )
    if volume_size is not None:
        try:
            volume_size.to_gibibytes()
        except RuntimeError:  # Size raises for a fractional number of GiB
            problems.add(labeled("volume_size"), volume_size, "a whole number of GiB")
    nvme = [t for t in instance_types if has_local_nvme_storage(t)]
    if volume_kms_key is not None and nvme:
        problems.add(
            labeled("volume_kms_key"),
            volume_kms_key.node.path,
            f"{', '.join(nvme)} has local NVMe storage, which SageMaker encrypts in "
            "hardware and for which it rejects a volume KMS key; remove volume_kms_key",
        )
    if enable_managed_spot_training:
        if max_wait is None:
            problems.add(
                labeled("max_wait"), None, "required with enable_managed_spot_training (EnableManagedSpotTraining)"
            )
        elif max_wait.to_seconds() < max_runtime_seconds:
            problems.add(
                labeled("max_wait"), max_wait, f"must be >= max_runtime ({max_runtime_seconds} s, MaxRuntimeInSeconds)"
            )
    elif max_wait is not None:
        problems.add(
            labeled("max_wait"), max_wait, "only allowed with enable_managed_spot_training (EnableManagedSpotTraining)"
        )
    if max_runtime_seconds > MAX_RUNTIME_SECONDS:
        problems.add(
            labeled("max_runtime"),
            f"{max_runtime_seconds} s",
            f"at most 28 days ({MAX_RUNTIME_SECONDS} s), SageMaker's documented limit for a training job",
        )
    if len(tags) > TAG_LIMIT - RESERVED_TAGS:
        problems.add(
            labeled("tags"),
            f"{len(tags)} tags",
            f"at most {TAG_LIMIT - RESERVED_TAGS} (the handler adds {RESERVED_TAGS})",
        )
    for key in tags:
        if key.lower().startswith("aws:"):
            problems.add(labeled("tags"), key, "keys starting with 'aws:' are reserved by AWS")
    names = [c.channel_name for c in inputs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        where = ", ".join(f"InputDataConfig[{i}].ChannelName" for i, n in enumerate(names) if n == name)
        problems.add(f"inputs ({where})", name, "channel names must be unique")
    if training_job_name is not None and not (
        Token.is_unresolved(training_job_name) or is_valid_job_name(training_job_name)
    ):
        problems.add(
            labeled("training_job_name"),
            training_job_name,
            "1-63 characters: letters, digits and hyphens, starting and ending with a letter or digit",
        )
    _network_problems(problems, inputs, vpc, vpc_subnets, security_groups)
    if instance_count is not None and instance_count < 1:
        problems.add(labeled("instance_count"), instance_count, "at least 1")
    _group_problems(problems, instance_groups, instance_type, instance_count, inputs)


def _group_problems(
    problems: Problems,
    groups: Sequence[InstanceGroup],
    instance_type: str | None,
    instance_count: int | None,
    inputs: Sequence[Channel],
) -> None:
    """A heterogeneous cluster: named groups only, each channel feeding groups that exist."""
    if groups and (instance_type is not None or instance_count is not None):
        problems.add(
            "instance_groups (ResourceConfig.InstanceGroups)",
            {"instance_type": instance_type, "instance_count": instance_count},
            "with instance_groups, leave instance_type and instance_count unset (SageMaker refuses both)",
        )
    names = [g.instance_group_name for g in groups]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.add(
            "instance_groups (ResourceConfig.InstanceGroups[].InstanceGroupName)", name, "names must be unique"
        )
    for i, group in enumerate(groups):
        if group.instance_count < 1:
            problems.add(
                f"instance_groups[{i}] (ResourceConfig.InstanceGroups[{i}].InstanceCount)",
                group.instance_count,
                "at least 1",
            )
    for i, channel in enumerate(inputs):
        for name in channel.instance_group_names or []:
            if name not in names:
                allowed = f"one of {', '.join(names)}" if names else "instance_groups to be set (no group exists)"
                where = f"InputDataConfig[{i}].DataSource.S3DataSource.InstanceGroupNames"
                problems.add(f"inputs[{i}].instance_group_names ({where})", name, allowed)


def _network_problems(
    problems: Problems,
    inputs: Sequence[Channel],
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
) -> None:
    explicit_subnets = vpc_subnets is not None and bool(vpc_subnets.subnets)
    if (
        vpc is None
        and (vpc_subnets is not None or security_groups is not None)
        and not (explicit_subnets and security_groups)
    ):
        problems.add(
            labeled("vpc"),
            None,
            "required when vpc_subnets or security_groups is set, unless vpc_subnets lists "
            "subnets explicitly and security_groups is given",
        )
    if vpc is None and not explicit_subnets:
        for index, channel in enumerate(inputs):
            if isinstance(channel.data, FileSystemLocation):
                problems.add(
                    f"inputs[{index}].data (InputDataConfig[{index}].DataSource.FileSystemDataSource)",
                    channel.data.file_system_id,
                    "a file system channel needs vpc (VpcConfig)",
                )


def wait_problems(
    problems: Problems,
    wait: Duration | None,
    *,
    max_runtime_seconds: int,
    enable_managed_spot_training: bool,
    max_wait: Duration | None,
) -> None:
    """The completion gate must outlast the job's longest possible run, within 12 hours."""
    if wait is None:
        return
    seconds = wait.to_seconds()
    spot = enable_managed_spot_training and max_wait is not None
    longest = max_wait.to_seconds() if spot and max_wait is not None else max_runtime_seconds
    needed = longest + STARTUP_MARGIN.to_seconds()
    if seconds > MAX_WAIT.to_seconds():
        problems.add("wait_for_completion", wait, "at most 12 hours (CloudFormation's WaitCondition limit)")
    elif seconds <= needed:
        problems.add(
            "wait_for_completion",
            wait,
            f"must exceed {'max_wait' if spot else 'max_runtime'} ({longest} s) plus "
            f"{int(STARTUP_MARGIN.to_minutes())} minutes of start-up, i.e. more than {needed} s",
        )
