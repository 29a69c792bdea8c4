"""Where a job's instances come from: training plans, UltraServer placement and a list of
preferred instance types (``ResourceConfig.TrainingPlanArn``, ``InstancePlacementConfig``,
``InstancePreferences``).

None of them needs a permission of the job's role. A training plan is a resource of
``sagemaker:CreateTrainingJob`` itself (service authorization reference), so the stack's
handler is allowed to create jobs on exactly the plans its jobs name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ec2 as ec2

from .errors import Problems
from .instance_group import ml_instance_type


@dataclass(frozen=True)
class PlacementSpecification:
    """``instance_count`` instances placed together on one UltraServer (``ultra_server_id``;
    default: one SageMaker chooses)."""

    instance_count: int
    ultra_server_id: str | None = None

    def render(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"InstanceCount": self.instance_count}
        if self.ultra_server_id is not None:
            spec["UltraServerId"] = self.ultra_server_id
        return spec


@dataclass(frozen=True)
class InstancePlacementConfig:
    """``ResourceConfig.InstancePlacementConfig``: how the job's instances are placed on
    UltraServer capacity. Defaults: SageMaker's (the job's instances are not shared with other
    jobs; no placement specification)."""

    enable_multiple_jobs: bool | None = None
    placement_specifications: Sequence[PlacementSpecification] = ()

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.enable_multiple_jobs is not None:
            config["EnableMultipleJobs"] = self.enable_multiple_jobs
        if self.placement_specifications:
            config["PlacementSpecifications"] = [spec.render() for spec in self.placement_specifications]
        return config


@dataclass(frozen=True)
class InstancePreference:
    """One entry of ``ResourceConfig.InstancePreferences``: SageMaker takes the first instance
    type of the list with capacity. ``instance_count`` is set on every preference or on none (then
    the job's ``instance_count`` applies); ``training_plan_arns`` use a plan's reserved capacity
    for this type (default: on-demand)."""

    instance_type: str | ec2.InstanceType
    instance_count: int | None = None
    training_plan_arns: Sequence[str] = ()

    @property
    def ml_instance_type(self) -> str:
        return ml_instance_type(self.instance_type)

    def render(self) -> dict[str, Any]:
        preference: dict[str, Any] = {"InstanceType": self.ml_instance_type}
        if self.instance_count is not None:
            preference["InstanceCount"] = self.instance_count
        if self.training_plan_arns:
            preference["TrainingPlanArns"] = list(self.training_plan_arns)
        return preference


def render_capacity(
    resource_config: dict[str, Any],
    *,
    training_plan_arn: str | None,
    instance_placement: InstancePlacementConfig | None,
    instance_preferences: Sequence[InstancePreference],
) -> None:
    if training_plan_arn is not None:
        resource_config["TrainingPlanArn"] = training_plan_arn
    if instance_placement is not None:
        resource_config["InstancePlacementConfig"] = instance_placement.render()
    if instance_preferences:
        resource_config["InstancePreferences"] = [p.render() for p in instance_preferences]


def preference_problems(
    problems: Problems,
    preferences: Sequence[InstancePreference],
    *,
    instance_type: Any,
    instance_count: int | None,
    instance_groups: Sequence[Any],
    instance_placement: InstancePlacementConfig | None,
    enable_managed_spot_training: bool | None,
    training_plan_arn: str | None,
) -> None:
    """SageMaker's rules for ``InstancePreferences`` (its API reference), at synth."""
    if not preferences:
        return
    where = "instance_preferences (ResourceConfig.InstancePreferences)"
    excluded = {
        "instance_type (ResourceConfig.InstanceType)": instance_type,
        "instance_groups (ResourceConfig.InstanceGroups)": instance_groups or None,
        "instance_placement (ResourceConfig.InstancePlacementConfig)": instance_placement,
        "enable_managed_spot_training (EnableManagedSpotTraining)": enable_managed_spot_training or None,
    }
    for prop, value in excluded.items():
        if value is not None:
            problems.add(where, prop, f"instance_preferences exclude {prop.split(' ')[0]}; leave it unset")
    types = [p.ml_instance_type for p in preferences]
    for name in sorted({t for t in types if types.count(t) > 1}):
        problems.add(f"{where[:-1]}[].InstanceType)", name, "an instance type may appear only once")
    counted = [p.instance_count is not None for p in preferences]
    if any(counted) and not all(counted):
        problems.add(
            f"{where[:-1]}[].InstanceCount)",
            [p.instance_count for p in preferences],
            "set on every preference or on none",
        )
    elif all(counted) and instance_count is not None:
        problems.add(where, instance_count, "instance_count is set on the preferences; leave the job's unset")
    elif not any(counted) and instance_count is None:
        problems.add(where, None, "set instance_count on the job or on every preference")
    for i, preference in enumerate(preferences):
        if preference.instance_count is not None and preference.instance_count < 1:
            problems.add(f"{where[:-1]}[{i}].InstanceCount)", preference.instance_count, "at least 1")
    if training_plan_arn is not None and any(p.training_plan_arns for p in preferences):
        problems.add(
            "training_plan_arn (ResourceConfig.TrainingPlanArn)",
            training_plan_arn,
            "a plan per preference (InstancePreferences[].TrainingPlanArns) excludes the job's; keep one of them",
        )


def training_plans(resource_config: dict[str, Any]) -> list[str]:
    """The training plan ARNs a rendered ``ResourceConfig`` names."""
    plans = [resource_config["TrainingPlanArn"]] if "TrainingPlanArn" in resource_config else []
    for preference in resource_config.get("InstancePreferences", []):
        plans += preference.get("TrainingPlanArns", [])
    return plans
