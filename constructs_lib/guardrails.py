"""What the stack's handler may start: IAM conditions derived from the stack's own jobs.

The handler's ``sagemaker:CreateTrainingJob`` permission carries SageMaker's condition keys
(service authorization reference) set to the union of what the stack's jobs use, so that an
event forged by whoever may invoke the handler can start only a job the stack could have
started: its instance types, subnets and security groups, its volume and output keys, no
longer a runtime, no network isolation or traffic encryption turned off where every job has
it on, no remote debugging or file system the stack does not use. The sets grow with the
distinct values, never with the number of jobs (one set per stack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .capacity import training_plans


def _unique(values: list[str], new: Any) -> None:
    if isinstance(new, str) and new not in values:
        values.append(new)


def _seconds(value: Any) -> int | None:
    """A number of seconds, or None when it is known only at deploy time (a token)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class _Optional:
    """Values a member takes across the stack's jobs, and whether some job leaves it out."""

    values: list[str] = field(default_factory=list)
    absent: bool = False

    def add(self, value: Any) -> None:
        if value is None:
            self.absent = True
        else:
            _unique(self.values, value)


@dataclass
class Guardrails:
    """The union of the stack's CreateTrainingJob requests, rendered as IAM conditions."""

    jobs: int = 0
    instance_types: list[str] = field(default_factory=list)
    subnets: _Optional = field(default_factory=_Optional)
    security_groups: list[str] = field(default_factory=list)
    volume_keys: _Optional = field(default_factory=_Optional)
    output_keys: _Optional = field(default_factory=_Optional)
    file_systems: _Optional = field(default_factory=_Optional)
    file_system_types: list[str] = field(default_factory=list)
    file_system_modes: list[str] = field(default_factory=list)
    file_system_paths: list[str] = field(default_factory=list)
    max_runtime: int | None = 0  # None: some job's runtime is a deploy-time value
    runtime_absent: bool = False  # some job leaves it to SageMaker (serverless)
    training_plans: list[str] = field(default_factory=list)
    keep_alive: int | None = None
    keep_alive_known: bool = True
    isolated: int = 0
    encrypted: int = 0
    remote_debug: bool = False

    def add(self, request: Mapping[str, Any]) -> None:
        """Takes in one job's rendered request (tokens as they are)."""
        self.jobs += 1
        resources = request.get("ResourceConfig", {})
        _unique(self.instance_types, resources.get("InstanceType"))
        for choice in (*resources.get("InstanceGroups", []), *resources.get("InstancePreferences", [])):
            _unique(self.instance_types, choice.get("InstanceType"))
        for plan in training_plans(resources):
            _unique(self.training_plans, plan)
        if resources.get("KeepAlivePeriodInSeconds") is not None:
            keep_alive = _seconds(resources["KeepAlivePeriodInSeconds"])
            self.keep_alive_known &= keep_alive is not None
            self.keep_alive = max(self.keep_alive or 0, keep_alive or 0)
        self.volume_keys.add(resources.get("VolumeKmsKeyId"))
        self.output_keys.add(request.get("OutputDataConfig", {}).get("KmsKeyId"))
        vpc = request.get("VpcConfig")
        if vpc:
            for subnet in vpc.get("Subnets", []):
                self.subnets.add(subnet)
            for group in vpc.get("SecurityGroupIds", []):
                _unique(self.security_groups, group)
        else:
            self.subnets.absent = True
        stopping = request.get("StoppingCondition", {})
        self.runtime_absent |= "MaxRuntimeInSeconds" not in stopping
        runtime = _seconds(stopping.get("MaxRuntimeInSeconds", 86400))
        self.max_runtime = None if runtime is None or self.max_runtime is None else max(self.max_runtime, runtime)
        self.isolated += bool(request.get("EnableNetworkIsolation"))
        self.encrypted += bool(request.get("EnableInterContainerTrafficEncryption"))
        self.remote_debug |= bool(request.get("RemoteDebugConfig", {}).get("EnableRemoteDebug"))
        channels = [c.get("DataSource", {}).get("FileSystemDataSource") for c in request.get("InputDataConfig", [])]
        if not any(channels):
            self.file_systems.absent = True
        for source in filter(None, channels):
            self.file_systems.add(source.get("FileSystemId"))
            _unique(self.file_system_types, source.get("FileSystemType"))
            _unique(self.file_system_modes, source.get("FileSystemAccessMode"))
            _unique(self.file_system_paths, source.get("DirectoryPath"))

    def conditions(self) -> dict[str, dict[str, Any]]:
        """IAM condition operators -> keys -> values; empty before any job is added."""
        if not self.jobs:
            return {}
        blocks: dict[str, dict[str, Any]] = {}

        def put(operator: str, key: str, value: Any) -> None:
            blocks.setdefault(operator, {})[f"sagemaker:{key}"] = value

        put("ForAllValues:StringEquals", "InstanceTypes", self.instance_types)
        if self.max_runtime is not None:
            operator = "NumericLessThanEqualsIfExists" if self.runtime_absent else "NumericLessThanEquals"
            put(operator, "MaxRuntimeInSeconds", str(self.max_runtime))
        if self.subnets.values:
            put("ForAllValues:StringEquals", "VpcSubnets", self.subnets.values)
            put("ForAllValues:StringEquals", "VpcSecurityGroupIds", self.security_groups)
            if not self.subnets.absent:  # every job runs in a VPC: none may leave it
                put("Null", "VpcSubnets", "false")
        else:
            put("Null", "VpcSubnets", "true")
        for key, keys in (("VolumeKmsKey", self.volume_keys), ("OutputKmsKey", self.output_keys)):
            if not keys.values:
                put("Null", key, "true")
            else:
                put("ArnEqualsIfExists" if keys.absent else "ArnEquals", key, keys.values)
        if self.isolated == self.jobs:
            put("Bool", "NetworkIsolation", "true")
        if self.encrypted == self.jobs:
            put("Bool", "InterContainerTrafficEncryption", "true")
        if not self.remote_debug:
            put("BoolIfExists", "EnableRemoteDebug", "false")
        if self.keep_alive is None:
            put("Null", "KeepAlivePeriod", "true")
        elif self.keep_alive_known:
            put("NumericLessThanEqualsIfExists", "KeepAlivePeriod", str(self.keep_alive))
        if not self.file_systems.values:
            put("Null", "FileSystemId", "true")
        else:
            operator = "StringEqualsIfExists" if self.file_systems.absent else "StringEquals"
            put(operator, "FileSystemId", self.file_systems.values)
            put(operator, "FileSystemType", self.file_system_types)
            put(operator, "FileSystemAccessMode", self.file_system_modes)
            put(operator, "FileSystemDirectoryPath", self.file_system_paths)
        return blocks
