"""The type of every ``TrainingJob`` prop, checked before anything is built: a wrong type is
reported like any other problem (the prop, its API member, the value, what is allowed), not
as a bare Python error from deep inside."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from aws_cdk import Duration, Size, Token
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
        # Each value is checked by the rules, which name its key (script mode takes more types).
        _Expected(_mapping_of(object), "a mapping of names to str, int, float or bool"),
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
    "run_trigger": (
        "RunTrigger property",
        _Expected(
            lambda v: isinstance(v, str) and bool(v.strip() or Token.is_unresolved(v)),
            "a non-empty string whose change starts a new job (a data version, a date, a commit)",
        ),
    ),
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
        elif isinstance(value, Sequence) and not isinstance(value, str):
            for index, item in enumerate(value):
                _nested_problems(problems, f"{prop}[{index}]", f"{member}[{index}]", item)
        else:
            _nested_problems(problems, prop, member, value)


# What a nested value of these types is, as a user writes it.
_EXAMPLES: dict[type, str] = {
    S3Location: "an S3Location, e.g. S3Location.from_uri('s3://bucket/prefix/') or S3Location.from_bucket(bucket, "
    "'prefix/')",
    Duration: "a Duration, e.g. Duration.hours(1)",
    Size: "a Size, e.g. Size.gibibytes(100)",
}


@cache
def _fields(kind: type) -> tuple[tuple[str, Any, Callable[[Any], bool]], ...]:
    """The fields of one of the library's value types (none for any other type), each with its
    type and that type's check: worked out once per type, as every job checks the same types."""
    if not dataclasses.is_dataclass(kind) or not kind.__module__.startswith("constructs_lib."):
        return ()
    try:
        hints = typing.get_type_hints(kind)
    except Exception:
        return ()
    return tuple((f.name, hints[f.name], _checker(hints[f.name])) for f in dataclasses.fields(kind) if f.name in hints)


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (what cannot be judged, such as a jsii interface, is)."""
    return _checker(hint)(value)


@cache
def _checker(hint: Any) -> Callable[[Any], bool]:
    """``hint`` as a check, worked out once per hint (every job checks the same types)."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return lambda value: True
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        options = tuple(_checker(arg) for arg in args if arg is not type(None))
        if len(options) < len(args):  # Optional[...]: most fields, and most of them None
            return lambda value: value is None or any(check(value) for check in options)
        return lambda value: any(check(value) for check in options)
    if hint is type(None):
        return lambda value: value is None
    if origin in (Sequence, list, tuple):
        args = typing.get_args(hint)
        item = _checker(args[0]) if args else None  # tuple[X, ...] as Sequence[X]
        return lambda value: (
            isinstance(value, Sequence) and not isinstance(value, str) and (item is None or all(map(item, value)))
        )
    if origin in (Mapping, dict):
        args = typing.get_args(hint)
        keys, values = (_checker(args[0]), _checker(args[1])) if args else (None, None)
        return lambda value: (
            isinstance(value, Mapping)
            and (keys is None or values is None or all(keys(k) and values(v) for k, v in value.items()))
        )
    if not isinstance(hint, type):
        return lambda value: True
    if hint in (int, float):
        return lambda value: (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (hint is float or isinstance(value, int) or bool(Token.is_unresolved(value)))
        )
    try:
        isinstance(None, hint)
    except TypeError:  # a jsii interface (a Protocol): Python cannot tell
        return lambda value: True
    return lambda value: isinstance(value, hint)


def _allowed(hint: Any, value: Any) -> str:
    """What a field of type ``hint`` takes, with the way to write it."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    parts = []
    for kind in kinds:
        origin = typing.get_origin(kind)
        if kind is S3Location and isinstance(value, str) and value.startswith("s3://"):
            parts.append(f"an S3Location: S3Location.from_uri({value!r})")
        elif origin in (Sequence, list, tuple):
            items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
            wrong = next((v for v in items if not _matches(v, typing.get_args(kind)[0])), None)
            parts.append(f"a list, each {_allowed(typing.get_args(kind)[0], wrong)}")
        elif origin in (Mapping, dict):
            parts.append("a mapping (dict)")
        elif isinstance(kind, type) and issubclass(kind, Enum):
            parts.append("one of " + ", ".join(f"{kind.__name__}.{m.name}" for m in kind))
        elif isinstance(kind, type):
            name = kind.__name__
            parts.append(_EXAMPLES.get(kind, f"{'an' if name[0] in 'AEIOUaeiou' else 'a'} {name}"))
        else:
            parts.append(str(kind))
    return " or ".join(parts)


def _nested_problems(problems: Problems, path: str, member: str, value: Any) -> None:
    """The fields of one of the library's value types (a ``Channel``, an ``InstanceGroup``...),
    checked as the top-level props are, and the value types inside them."""
    kind: type = type(value)
    for name, hint, check in _fields(kind):
        field_value = getattr(value, name)
        if not check(field_value):
            problems.add(f"{path}.{name} ({member})", field_value, _allowed(hint, field_value))
        elif field_value is None or isinstance(field_value, str | int | float):
            continue  # a scalar: no fields of its own
        elif isinstance(field_value, Sequence):
            for index, item in enumerate(field_value):
                _nested_problems(problems, f"{path}.{name}[{index}]", member, item)
        else:
            _nested_problems(problems, f"{path}.{name}", member, field_value)


def labeled(prop: str) -> str:
    """``max_wait`` -> ``max_wait (StoppingCondition.MaxWaitTimeInSeconds)``: the prop a user of
    the constructs wrote and the member a user of the CLI's JSON wrote."""
    return f"{prop} ({PROP_TYPES[prop][0]})" if prop in PROP_TYPES else prop
