"""Compute and capacity: ``ResourceConfig`` (instances or groups or preferences, volumes and
their key, warm pool, training plan, placement)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations, Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from ..capacity import InstancePlacementConfig, InstancePreference, PlacementSpecification, preference_problems
from ..execution_role import grant_volume_key
from ..instance_group import InstanceGroup, ml_instance_type
from ..instance_types import has_local_nvme_storage
from ..policy import key_arn_of
from ..prop_types import labeled
from .context import JobContext, RequestPart

if TYPE_CHECKING:
    from ..cli_input import CliReader

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"


class Compute(RequestPart):
    """The instances the job runs on (default: one ``ml.m5.xlarge``) and their volumes (default:
    30 GiB, encrypted with the output key unless the type has local NVMe storage)."""

    def __init__(
        self,
        ctx: JobContext,
        *,
        instance_type: str | ec2.InstanceType | None,
        instance_count: int | None,
        instance_groups: Sequence[InstanceGroup] | None,
        instance_preferences: Sequence[InstancePreference] | None,
        instance_placement: InstancePlacementConfig | None,
        training_plan_arn: str | None,
        volume_size: Size | None,
        volume_kms_key: kms.IKey | None,
        encrypt_volume: bool,
        keep_alive_period: Duration | None,
        enable_managed_spot_training: bool | None,
    ) -> None:
        groups, preferences = list(instance_groups or []), list(instance_preferences or [])
        if not (groups or preferences or ctx.serverless):
            instance_type = ml_instance_type(instance_type or DEFAULT_INSTANCE_TYPE)
            instance_count = 1 if instance_count is None else instance_count
        elif instance_type is not None:
            instance_type = ml_instance_type(instance_type)
        self.groups, self.preferences = groups, preferences
        self.instance_type, self.instance_count = instance_type, instance_count
        counts = [g.instance_count for g in groups] or [p.instance_count or instance_count or 1 for p in preferences]
        types = [g.ml_instance_type for g in groups] + [p.ml_instance_type for p in preferences]
        if instance_type is not None:
            types.append(instance_type)
        ctx.instance_type = instance_type
        ctx.instance_types = types
        ctx.instance_count = sum(counts) if groups else max(counts, default=instance_count or 1)
        ctx.instance_group_names = [g.instance_group_name for g in groups]
        self.placement, self.plan = instance_placement, training_plan_arn
        self.spot = enable_managed_spot_training
        self.volume_size, self.keep_alive = volume_size, keep_alive_period
        self.given_volume_key = volume_kms_key
        nvme = self.nvme = [t for t in types if has_local_nvme_storage(t)]
        # SageMaker selects a serverless job's volumes.
        if volume_kms_key is None and encrypt_volume and not ctx.serverless:
            if not nvme:
                volume_kms_key = ctx.output_kms_key
            elif ctx.output_kms_key is not None:
                Annotations.of(ctx.job).add_warning_v2(
                    "@constructs-lib/volume-key-dropped",
                    f"encrypt_volume: no VolumeKmsKeyId is sent, because {', '.join(nvme)} has local NVMe "
                    "storage, which SageMaker encrypts itself and for which it refuses a volume key",
                )
        ctx.volume_kms_key = self.volume_key = volume_kms_key

    def check(self, ctx: JobContext) -> None:
        problems, groups = ctx.problems, self.groups
        if self.volume_size is not None:
            try:
                self.volume_size.to_gibibytes()
            except RuntimeError:  # Size raises for a fractional number of GiB
                problems.add(labeled("volume_size"), self.volume_size, "a whole number of GiB")
        if self.given_volume_key is not None and self.nvme:
            problems.add(
                labeled("volume_kms_key"),
                self.given_volume_key.node.path,
                f"{', '.join(self.nvme)} has local NVMe storage, which SageMaker encrypts in "
                "hardware and for which it rejects a volume KMS key; remove volume_kms_key",
            )
        if self.instance_count is not None and self.instance_count < 1:
            problems.add(labeled("instance_count"), self.instance_count, "at least 1")
        given_type = self.instance_type if (groups or self.preferences) else None
        if groups and (given_type is not None or self.instance_count is not None):
            problems.add(
                "instance_groups (ResourceConfig.InstanceGroups)",
                {"instance_type": given_type, "instance_count": self.instance_count},
                "with instance_groups, leave instance_type and instance_count unset (SageMaker refuses both)",
            )
        names = ctx.instance_group_names
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
        preference_problems(
            problems,
            self.preferences,
            instance_type=self.instance_type if self.preferences else None,
            instance_count=self.instance_count,
            instance_groups=groups,
            instance_placement=self.placement,
            enable_managed_spot_training=self.spot,
            training_plan_arn=self.plan,
        )

    def grant(self, ctx: JobContext) -> None:
        if self.volume_key is not None:
            grant_volume_key(ctx.stack, ctx.role, self.volume_key)
            ctx.reach(self.volume_key)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        config: dict[str, Any] = {}
        if self.volume_key is not None:
            config["VolumeKmsKeyId"] = key_arn_of(self.volume_key)
        if not ctx.serverless:  # a volume key is all a serverless job's resources may say
            config.update(self._resources())
        if config:
            request["ResourceConfig"] = config

    def _resources(self) -> dict[str, Any]:
        # A heterogeneous cluster names its groups; SageMaker then refuses InstanceType/InstanceCount.
        config: dict[str, Any] = {}
        if self.groups:
            config["InstanceGroups"] = [group.render() for group in self.groups]
        elif self.instance_type is not None:
            config["InstanceType"] = self.instance_type
        if not self.groups and self.instance_count is not None:
            config["InstanceCount"] = self.instance_count
        config["VolumeSizeInGB"] = _whole_gibibytes(self.volume_size)
        if self.keep_alive is not None:
            config["KeepAlivePeriodInSeconds"] = int(self.keep_alive.to_seconds())
        if self.plan is not None:
            config["TrainingPlanArn"] = self.plan
        if self.placement is not None:
            config["InstancePlacementConfig"] = self.placement.render()
        if self.preferences:
            config["InstancePreferences"] = [p.render() for p in self.preferences]
        return config


def _whole_gibibytes(size: Size | None) -> int:
    """The volume size in GiB (30 by default); a fractional size is a problem ``check`` reports,
    so 30 stands in while the rest is validated."""
    try:
        return int(size.to_gibibytes()) if size is not None else 30
    except RuntimeError:
        return 30


def read_resource_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    if "InstanceGroups" in config:
        reader.props["instance_groups"] = [
            InstanceGroup(g["InstanceGroupName"], g["InstanceType"], g["InstanceCount"])
            for g in config["InstanceGroups"]
        ]
    if "InstanceType" in config:
        reader.props["instance_type"] = config["InstanceType"]
    if "InstanceCount" in config:
        reader.props["instance_count"] = config["InstanceCount"]
    if "VolumeSizeInGB" in config:
        reader.props["volume_size"] = Size.gibibytes(config["VolumeSizeInGB"])
    if config.get("VolumeKmsKeyId"):
        reader.props["volume_kms_key"] = reader.key("ResourceConfig.VolumeKmsKeyId", config["VolumeKmsKeyId"])
    if "KeepAlivePeriodInSeconds" in config:
        reader.props["keep_alive_period"] = Duration.seconds(config["KeepAlivePeriodInSeconds"])
    if "TrainingPlanArn" in config:
        reader.props["training_plan_arn"] = config["TrainingPlanArn"]
    if "InstancePlacementConfig" in config:
        placement = config["InstancePlacementConfig"]
        reader.props["instance_placement"] = InstancePlacementConfig(
            placement.get("EnableMultipleJobs"),
            [
                PlacementSpecification(spec["InstanceCount"], spec.get("UltraServerId"))
                for spec in placement.get("PlacementSpecifications", [])
            ],
        )
    if "InstancePreferences" in config:
        reader.props["instance_preferences"] = [
            InstancePreference(p["InstanceType"], p.get("InstanceCount"), p.get("TrainingPlanArns", []))
            for p in config["InstancePreferences"]
        ]
    typed = {
        "TrainingPlanArn",
        "InstancePlacementConfig",
        "InstancePreferences",
        "InstanceType",
        "InstanceCount",
        "InstanceGroups",
        "VolumeSizeInGB",
        "VolumeKmsKeyId",
        "KeepAlivePeriodInSeconds",
    }
    reader.leftovers("ResourceConfig", config, typed)


Compute.cli_members = {"ResourceConfig": read_resource_config}
