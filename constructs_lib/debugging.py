"""SageMaker Debugger, Profiler and TensorBoard output: what the job writes besides its model.

Each value renders its members of the CreateTrainingJob request and grants the job's role
what SageMaker needs for it: the training container (and the rule evaluations, which run
with the job's role) write under each S3 prefix, so the role gets ``s3:PutObject`` there and
the prefix's key through S3, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, Size
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from .instance_group import ml_instance_type
from .s3_location import S3Location


@dataclass(frozen=True)
class TensorBoardOutput:
    """``TensorBoardOutputConfig``: TensorBoard data written to ``s3_output`` (from
    ``local_path`` in the container; default: SageMaker's ``/opt/ml/output/tensorboard``)."""

    s3_output: S3Location
    local_path: str | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {"S3OutputPath": self.s3_output.s3_uri}
        if self.local_path is not None:
            config["LocalPath"] = self.local_path
        return config

    def locations(self) -> list[S3Location]:
        return [self.s3_output]


@dataclass(frozen=True)
class CollectionConfiguration:
    """One entry of ``DebugHookConfig.CollectionConfigurations``: a tensor collection the hook
    saves, with its parameters (default: the collection's own)."""

    collection_name: str | None = None
    collection_parameters: Mapping[str, str] | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.collection_name is not None:
            config["CollectionName"] = self.collection_name
        if self.collection_parameters is not None:
            config["CollectionParameters"] = dict(self.collection_parameters)
        return config


@dataclass(frozen=True)
class DebugHookConfig:
    """``DebugHookConfig``: tensors the Debugger hook saves to ``s3_output``. Default: SageMaker's
    local path, hook parameters and collections. ``collections`` is a mapping of collection names
    to their parameters, or a list of ``CollectionConfiguration`` (kept as given, repeats included,
    as the SageMaker Python SDK sends them)."""

    s3_output: S3Location
    local_path: str | None = None
    hook_parameters: Mapping[str, str] | None = None
    collections: Mapping[str, Mapping[str, str]] | Sequence[CollectionConfiguration] | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {"S3OutputPath": self.s3_output.s3_uri}
        if self.local_path is not None:
            config["LocalPath"] = self.local_path
        if self.hook_parameters:
            config["HookParameters"] = dict(self.hook_parameters)
        if isinstance(self.collections, Mapping):
            config["CollectionConfigurations"] = [
                {"CollectionName": name, **({"CollectionParameters": dict(p)} if p else {})}
                for name, p in self.collections.items()
            ]
        elif self.collections is not None:
            config["CollectionConfigurations"] = [c.render() for c in self.collections]
        return config

    def locations(self) -> list[S3Location]:
        return [self.s3_output]


@dataclass(frozen=True)
class ProfilerConfig:
    """``ProfilerConfig``: system and framework metrics written to ``s3_output``. Default:
    SageMaker's interval (500 ms) and output (the job's output bucket, which its role can already
    write to when it is this job's output location); ``disable_profiler=True`` turns it off. Can
    be changed on a running job (UpdateTrainingJob)."""

    s3_output: S3Location | None = None
    profiling_interval: Duration | None = None
    profiling_parameters: Mapping[str, str] | None = None
    disable_profiler: bool | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.s3_output is not None:
            config["S3OutputPath"] = self.s3_output.s3_uri
        if self.profiling_interval is not None:
            config["ProfilingIntervalInMilliseconds"] = int(self.profiling_interval.to_milliseconds())
        if self.profiling_parameters:
            config["ProfilingParameters"] = dict(self.profiling_parameters)
        if self.disable_profiler is not None:
            config["DisableProfiler"] = self.disable_profiler
        return config

    def locations(self) -> list[S3Location]:
        return [self.s3_output] if self.s3_output is not None else []


@dataclass(frozen=True)
class RuleConfiguration:
    """One Debugger or Profiler rule (``DebugRuleConfigurations`` / ``ProfilerRuleConfigurations``):
    a rule evaluator image run beside the job, with the job's role. Defaults: SageMaker's
    instance type, volume, output and local path for the evaluation."""

    rule_configuration_name: str
    rule_evaluator_image: str
    rule_parameters: Mapping[str, str] = field(default_factory=dict)
    s3_output: S3Location | None = None
    local_path: str | None = None
    instance_type: str | None = None
    volume_size: Size | None = None

    def render(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "RuleConfigurationName": self.rule_configuration_name,
            "RuleEvaluatorImage": self.rule_evaluator_image,
        }
        if self.s3_output is not None:
            rule["S3OutputPath"] = self.s3_output.s3_uri
        if self.local_path is not None:
            rule["LocalPath"] = self.local_path
        if self.instance_type is not None:
            rule["InstanceType"] = ml_instance_type(self.instance_type)
        if self.volume_size is not None:
            rule["VolumeSizeInGB"] = int(self.volume_size.to_gibibytes())
        if self.rule_parameters:
            rule["RuleParameters"] = dict(self.rule_parameters)
        return rule

    def locations(self) -> list[S3Location]:
        return [self.s3_output] if self.s3_output is not None else []


@dataclass(frozen=True)
class Debugging:
    """The job's Debugger, Profiler and TensorBoard settings, rendered and granted together."""

    debug_hook: DebugHookConfig | None = None
    debug_rules: Sequence[RuleConfiguration] = ()
    profiler: ProfilerConfig | None = None
    profiler_rules: Sequence[RuleConfiguration] = ()
    tensor_board_output: TensorBoardOutput | None = None

    def render_into(self, request: dict[str, Any]) -> None:
        if self.debug_hook is not None:
            request["DebugHookConfig"] = self.debug_hook.render()
        if self.debug_rules:
            request["DebugRuleConfigurations"] = [rule.render() for rule in self.debug_rules]
        if self.profiler is not None:
            request["ProfilerConfig"] = self.profiler.render()
        if self.profiler_rules:
            request["ProfilerRuleConfigurations"] = [rule.render() for rule in self.profiler_rules]
        if self.tensor_board_output is not None:
            request["TensorBoardOutputConfig"] = self.tensor_board_output.render()

    def locations(self) -> list[S3Location]:
        """Every S3 prefix written with the job's role."""
        found: list[S3Location] = []
        for part in (self.debug_hook, self.profiler, self.tensor_board_output, *self.debug_rules, *self.profiler_rules):
            if part is not None:
                found += part.locations()
        return found

    def analyzed(self, output: S3Location) -> list[S3Location]:
        """What the rule evaluations read: the Debugger hook's output for debug rules, the profiler's
        for profiler rules (SageMaker's default for either: under the job's ``output``)."""
        found: list[S3Location] = []
        if self.debug_rules:
            found.append(self.debug_hook.s3_output if self.debug_hook is not None else output)
        if self.profiler_rules:
            profiled = self.profiler.s3_output if self.profiler is not None else None
            found.append(profiled or output)
        return list({location.s3_uri: location for location in found}.values())

    def grant(self, scope: IConstruct, role: iam.IGrantable, output: S3Location) -> None:
        """PutObject (and the key through S3) under each prefix the job or its rules write; the rule
        evaluations, processing jobs that run with the job's role, also read what they analyze
        (ListBucket on the prefix, GetObject below it, Decrypt through S3)."""
        for location in self.locations():
            location.grant_write(scope, role)
        for location in self.analyzed(output):
            location.grant_read(scope, role)
