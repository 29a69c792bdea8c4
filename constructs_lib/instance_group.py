"""A group of a heterogeneous cluster (``ResourceConfig.InstanceGroups``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ec2 as ec2


def ml_instance_type(instance_type: str | ec2.InstanceType) -> str:
    """``ec2.InstanceType("g5.2xlarge")`` -> ``ml.g5.2xlarge``; names pass through."""
    if isinstance(instance_type, ec2.InstanceType):
        return f"ml.{instance_type.to_string()}"
    return instance_type


@dataclass(frozen=True)
class InstanceGroup:
    """``instance_count`` instances of ``instance_type``, named so that channels can feed only
    this group (``Channel(..., instance_group_names=[name])``). With ``instance_groups``, a job
    sets no ``instance_type`` / ``instance_count`` of its own (SageMaker refuses both).
    Default ``instance_count``: 1."""

    instance_group_name: str
    instance_type: str | ec2.InstanceType
    instance_count: int = 1

    @property
    def ml_instance_type(self) -> str:
        return ml_instance_type(self.instance_type)

    def render(self) -> dict[str, Any]:
        return {
            "InstanceGroupName": self.instance_group_name,
            "InstanceType": self.ml_instance_type,
            "InstanceCount": self.instance_count,
        }
