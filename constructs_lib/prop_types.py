"""The type of every ``TrainingJob`` prop, checked before anything is built: a wrong type is
reported like any other problem (the prop, its API member, the value, what is allowed), not
as a bare Python error from deep inside."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2

from .capacity import InstancePlacementConfig, InstancePreference
from .channel import Channel, InputMode
from .debugging import DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .distributed import Distribution
from .errors import Problems
from .image import TrainingImage
from .instance_group import InstanceGroup
from .memo import has_members
from .request import OutputCompressionType
from .s3_location import S3Location
from .serverless import ServerlessJobConfig
from .source_code import SourceCode
from .tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig


@dataclass(frozen=True)
class _Expected:
    check: Callable[[Any], bool]
    allowed: str


def _instance(*kinds: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool))


def _has(*attributes: str) -> Callable[[Any], bool]:
    """A jsii interface (IRole, IVpc, IKey…): Python sees its members, not its type."""
    return lambda value: has_members(value, *attributes)


def _mapping_of(*kinds: type) -> Callable[[Any], bool]:
    return lambda value: (
        isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, kinds) for k, v in value.items())
    )


def _sequence_of(kind: type | Callable[[Any], bool]) -> Callable[[Any], bool]:
    item = kind if callable(kind) and not isinstance(kind, type) else (lambda v: isinstance(v, kind))
    return lambda value: isinstance(value, Sequence) and not isinstance(value, str) and all(item(v) for v in value)


_DURATION = _Expected(_instance(Duration), "a Duration, e.g. Duration.hours(4)")
_S3 = _Expected(_instance(S3Location), "an S3Location, e.g. S3Location.from_bucket(bucket, 'prefix/')")
_KEY = _Expected(_has("key_arn", "grant"), "a kms.IKey, e.g. kms.Key.from_key_arn(self, 'Key', arn)")
_BOOL = _Expected(_instance(bool), "True or False")
_STRINGS = _Expected(_mapping_of(str), "a mapping of strings to strings")

# prop -> (API member it sets, what it takes). None: optional props accept None too.
PROP_TYPES: dict[str, tuple[str, _Expected]] = {
    "image": (
        "AlgorithmSpecification.TrainingImage",
        _Expected(_instance(TrainingImage), "a TrainingImage, e.g. TrainingImage.from_ecr_repository(repo, 'tag')"),
    ),
    "algorithm_name": ("AlgorithmSpecification.AlgorithmName", _Expected(_instance(str), "a string")),
    "input_mode": (
        "AlgorithmSpecification.TrainingInputMode",
        _Expected(_instance(InputMode), "an InputMode, e.g. InputMode.FILE"),
    ),
    "metric_definitions": (
        "AlgorithmSpecification.MetricDefinitions",
        _Expected(_mapping_of(str), "a mapping of metric names to regular expressions"),
    ),
    "enable_sage_maker_metrics_time_series": ("AlgorithmSpecification.EnableSageMakerMetricsTimeSeries", _BOOL),
    "hyperparameters": (
        "HyperParameters",
        _Expected(_mapping_of(str, int, float, bool), "a mapping of names to str, int, float or bool"),
    ),
    "environment": ("Environment", _STRINGS),
    "role": ("RoleArn", _Expected(_has("role_arn", "grant_pass_role"), "an iam.IRole")),
    "inputs": (
        "InputDataConfig",
        _Expected(
            _sequence_of(Channel),
            "a list of Channel, e.g. [Channel('train', S3Location.from_bucket(bucket, 'train/'))]",
        ),
    ),
    "output": ("OutputDataConfig.S3OutputPath", _S3),
    "output_kms_key": ("OutputDataConfig.KmsKeyId", _KEY),
    "output_compression": (
        "OutputDataConfig.CompressionType",
        _Expected(_instance(OutputCompressionType), "an OutputCompressionType"),
    ),
    "instance_type": (
        "ResourceConfig.InstanceType",
        _Expected(
            _instance(str, ec2.InstanceType), "an instance type name, e.g. 'ml.m5.xlarge', or an ec2.InstanceType"
        ),
    ),
    "instance_count": ("ResourceConfig.InstanceCount", _Expected(_instance(int), "a whole number, at least 1")),
    "instance_groups": (
        "ResourceConfig.InstanceGroups",
        _Expected(
            _sequence_of(InstanceGroup), "a list of InstanceGroup, e.g. [InstanceGroup('gpu', 'ml.p4d.24xlarge', 2)]"
        ),
    ),
    "volume_size": ("ResourceConfig.VolumeSizeInGB", _Expected(_instance(Size), "a Size, e.g. Size.gibibytes(100)")),
    "volume_kms_key": ("ResourceConfig.VolumeKmsKeyId", _KEY),
    "encrypt_volume": ("ResourceConfig.VolumeKmsKeyId", _BOOL),
    "keep_alive_period": ("ResourceConfig.KeepAlivePeriodInSeconds", _DURATION),
    "vpc": ("VpcConfig", _Expected(_has("vpc_id", "select_subnets"), "an ec2.IVpc")),
    "vpc_subnets": ("VpcConfig.Subnets", _Expected(_instance(ec2.SubnetSelection), "an ec2.SubnetSelection")),
    "security_groups": (
        "VpcConfig.SecurityGroupIds",
        _Expected(_sequence_of(_has("security_group_id")), "a list of ec2.ISecurityGroup"),
    ),
    "allow_all_outbound": ("VpcConfig.SecurityGroupIds", _BOOL),
    "max_runtime": ("StoppingCondition.MaxRuntimeInSeconds", _DURATION),
    "enable_managed_spot_training": ("EnableManagedSpotTraining", _BOOL),
    "max_wait": ("StoppingCondition.MaxWaitTimeInSeconds", _DURATION),
    "checkpoint": ("CheckpointConfig.S3Uri", _S3),
    "checkpoint_local_path": ("CheckpointConfig.LocalPath", _Expected(_instance(str), "a path in the container")),
    "enable_network_isolation": ("EnableNetworkIsolation", _BOOL),
    "enable_inter_container_traffic_encryption": ("EnableInterContainerTrafficEncryption", _BOOL),
    "tags": ("Tags", _STRINGS),
    "training_job_name": ("TrainingJobName", _Expected(_instance(str), "a string")),
    "overrides": ("(any member)", _Expected(_instance(Mapping), "a mapping of API member paths to values")),
    "wait_for_completion": ("(completion gate)", _DURATION),
    "container_entrypoint": (
        "AlgorithmSpecification.ContainerEntrypoint",
        _Expected(_sequence_of(str), "a list of strings"),
    ),
    "container_arguments": (
        "AlgorithmSpecification.ContainerArguments",
        _Expected(_sequence_of(str), "a list of strings"),
    ),
    "retry_attempts": ("RetryStrategy.MaximumRetryAttempts", _Expected(_instance(int), "a whole number, 1 to 30")),
    "max_pending_time": ("StoppingCondition.MaxPendingTimeInSeconds", _DURATION),
    "enable_remote_debug": ("RemoteDebugConfig.EnableRemoteDebug", _BOOL),
    "enable_infra_check": ("InfraCheckConfig.EnableInfraCheck", _BOOL),
    "enable_session_tag_chaining": ("SessionChainingConfig.EnableSessionTagChaining", _BOOL),
    "debug_hook": ("DebugHookConfig", _Expected(_instance(DebugHookConfig), "a DebugHookConfig")),
    "debug_rules": (
        "DebugRuleConfigurations",
        _Expected(_sequence_of(RuleConfiguration), "a list of RuleConfiguration"),
    ),
    "profiler": ("ProfilerConfig", _Expected(_instance(ProfilerConfig), "a ProfilerConfig")),
    "profiler_rules": (
        "ProfilerRuleConfigurations",
        _Expected(_sequence_of(RuleConfiguration), "a list of RuleConfiguration"),
    ),
    "tensor_board_output": ("TensorBoardOutputConfig", _Expected(_instance(TensorBoardOutput), "a TensorBoardOutput")),
    "training_plan_arn": (
        "ResourceConfig.TrainingPlanArn",
        _Expected(_instance(str), "a training plan ARN, arn:aws:sagemaker:<region>:<account>:training-plan/<name>"),
    ),
    "instance_placement": (
        "ResourceConfig.InstancePlacementConfig",
        _Expected(_instance(InstancePlacementConfig), "an InstancePlacementConfig"),
    ),
    "instance_preferences": (
        "ResourceConfig.InstancePreferences",
        _Expected(
            _sequence_of(InstancePreference),
            "a list of InstancePreference, e.g. [InstancePreference('ml.p5.48xlarge')]",
        ),
    ),
    "experiment": ("ExperimentConfig", _Expected(_instance(ExperimentConfig), "an ExperimentConfig")),
    "mlflow": ("MlflowConfig", _Expected(_instance(MlflowConfig), "an MlflowConfig")),
    "model_package": ("ModelPackageConfig", _Expected(_instance(ModelPackageConfig), "a ModelPackageConfig")),
    "serverless": ("ServerlessJobConfig", _Expected(_instance(ServerlessJobConfig), "a ServerlessJobConfig")),
    "source_code": (
        "HyperParameters.sagemaker_program / InputDataConfig (code)",
        _Expected(_instance(SourceCode), "a SourceCode, e.g. SourceCode.from_directory('src', 'train.py')"),
    ),
    "distributed": (
        "HyperParameters (launcher)",
        _Expected(_instance(Distribution), "a Distribution: Torchrun(), MPI() or SmDataParallel()"),
    ),
}


def type_problems(problems: Problems, props: Mapping[str, Any], enums: Mapping[str, type[Enum]]) -> None:
    """Adds a problem for each prop whose value is not of its type (``None`` is left to the
    props' defaults); ``enums`` holds the props typed by an Enum defined elsewhere."""
    for prop, value in props.items():
        if value is None:
            continue
        if prop in enums:
            if not isinstance(value, enums[prop]):
                names = ", ".join(f"{enums[prop].__name__}.{m.name}" for m in enums[prop])
                problems.add(prop, value, f"one of {names}")
            continue
        if prop not in PROP_TYPES:
            continue
        member, expected = PROP_TYPES[prop]
        if isinstance(value, Channel) and prop == "inputs":
            problems.add(f"{prop} ({member})", value, "a list of Channel: wrap the single channel in [ ]")
        elif not expected.check(value):
            problems.add(f"{prop} ({member})", value, expected.allowed)


def labeled(prop: str) -> str:
    """``max_wait`` -> ``max_wait (StoppingCondition.MaxWaitTimeInSeconds)``: the prop a user of
    the constructs wrote and the member a user of the CLI's JSON wrote."""
    return f"{prop} ({PROP_TYPES[prop][0]})" if prop in PROP_TYPES else prop
