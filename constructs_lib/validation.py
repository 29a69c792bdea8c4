"""Synth-time checks of the rendered CreateTrainingJob request.

The request is checked against botocore's SageMaker service model (required members,
unknown members, lengths, patterns, enums, ranges, list and map sizes); values that are
CDK tokens are skipped (the handler's API call checks them at deploy time). Rules across
props that the model cannot express live in ``rules``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from aws_cdk import Annotations, Stack, Token
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from constructs import IConstruct

from .errors import Problems
from .memo import per_object

# API member paths -> the TrainingJob prop a user wrote. "#" stands for a list index.
_PROP_NAMES = {
    "AlgorithmSpecification.TrainingImage": "image",
    "AlgorithmSpecification.AlgorithmName": "algorithm_name",
    "AlgorithmSpecification.TrainingInputMode": "input_mode",
    "AlgorithmSpecification.MetricDefinitions": "metric_definitions",
    "AlgorithmSpecification.MetricDefinitions[#].Name": "metric_definitions (name)",
    "AlgorithmSpecification.MetricDefinitions[#].Regex": "metric_definitions (regex)",
    "HyperParameters": "hyperparameters",
    "Environment": "environment",
    "InputDataConfig": "inputs",
    "InputDataConfig[#].ChannelName": "inputs[#].channel_name",
    "InputDataConfig[#].ContentType": "inputs[#].content_type",
    "InputDataConfig[#].DataSource.S3DataSource.S3Uri": "inputs[#].data",
    "InputDataConfig[#].DataSource.S3DataSource.AttributeNames": "inputs[#].attribute_names",
    "InputDataConfig[#].DataSource.S3DataSource.InstanceGroupNames": "inputs[#].instance_group_names",
    "ResourceConfig.InstanceGroups": "instance_groups",
    "InputDataConfig[#].ShuffleConfig.Seed": "inputs[#].shuffle_seed",
    "InputDataConfig[#].DataSource.S3DataSource.S3DataType": "inputs[#].s3_data_type",
    "InputDataConfig[#].DataSource.S3DataSource.S3DataDistributionType": "inputs[#].distribution",
    "InputDataConfig[#].CompressionType": "inputs[#].compression",
    "InputDataConfig[#].RecordWrapperType": "inputs[#].record_wrapper",
    "InputDataConfig[#].InputMode": "inputs[#].input_mode",
    "OutputDataConfig.KmsKeyId": "output_kms_key",
    "OutputDataConfig.CompressionType": "output_compression",
    "ResourceConfig.VolumeKmsKeyId": "volume_kms_key",
    "TrainingJobName": "training_job_name",
    "RoleArn": "role",
    "EnableNetworkIsolation": "enable_network_isolation",
    "EnableInterContainerTrafficEncryption": "enable_inter_container_traffic_encryption",
    "EnableManagedSpotTraining": "enable_managed_spot_training",
    "AlgorithmSpecification.EnableSageMakerMetricsTimeSeries": "enable_sage_maker_metrics_time_series",
    "OutputDataConfig.S3OutputPath": "output",
    "ResourceConfig.InstanceType": "instance_type",
    "ResourceConfig.InstanceCount": "instance_count",
    "ResourceConfig.VolumeSizeInGB": "volume_size",
    "ResourceConfig.KeepAlivePeriodInSeconds": "keep_alive_period",
    "StoppingCondition.MaxRuntimeInSeconds": "max_runtime",
    "StoppingCondition.MaxWaitTimeInSeconds": "max_wait",
    "CheckpointConfig.S3Uri": "checkpoint",
    "CheckpointConfig.LocalPath": "checkpoint_local_path",
    "Tags": "tags",
    "Tags[#].Key": "tags (key)",
    "Tags[#].Value": "tags (value)",
    "VpcConfig.Subnets": "vpc_subnets",
    "VpcConfig.SecurityGroupIds": "security_groups",
}

# Context key: true makes enum values the local botocore model does not know synth warnings.
ALLOW_UNKNOWN_ENUM_VALUES = "@constructs-lib/allow-unknown-enum-values"
UNKNOWN_ENUM_MARK = "\x00unknown-enum"
TAG_LIMIT = 50
RESERVED_TAGS = 5  # the handler's identity tags on every job


@cache
def _create_request_shape() -> StructureShape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape
    assert isinstance(shape, StructureShape)
    return shape


@cache
def prop_name(api_path: str) -> str:
    """``InputDataConfig[1].ChannelName`` -> ``inputs[1].channel_name (InputDataConfig[1].ChannelName)``;
    the longest mapped prefix names the prop, the rest (an index, a map key) is kept:
    ``VpcConfig.Subnets[0]`` -> ``vpc_subnets[0] (VpcConfig.Subnets[0])``."""
    cuts = [m.start() for m in re.finditer(r"\.|\[| key ", api_path)] + [len(api_path)]
    for cut in sorted(cuts, reverse=True):
        base, rest = api_path[:cut], api_path[cut:]
        name = _PROP_NAMES.get(re.sub(r"\[\d+\]", "[#]", base))
        if name is not None:
            for index in re.findall(r"\[(\d+)\]", base):
                name = name.replace("#", index, 1)
            return f"{name}{rest} ({api_path})"
    return api_path


def _describe_enum(value: str, values: list[str]) -> str:
    close = difflib.get_close_matches(value, values, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    shown = ", ".join(values[:12])
    more = f" (and {len(values) - 12} more)" if len(values) > 12 else ""
    return f"{hint}allowed: one of {shown}{more}"


_TOKEN = re.compile(r"[$#]\{Token\[")


def is_token(value: Any) -> bool:
    """Whether ``value`` is or contains a CDK token; strings are recognised in Python (no jsii
    round trip), numbers (encoded as huge negative doubles) by CDK."""
    if isinstance(value, str):
        return _TOKEN.search(value) is not None
    if isinstance(value, float) and value < -1e288:
        return bool(Token.is_unresolved(value))
    return False


def _check(shape: Shape, value: Any, path: str, out: list[str]) -> None:
    # Messages name the prop (``prop_name``) only when there is a problem: most values have none.
    if is_token(value):
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            out.append(f"{prop_name(path)}: got {value!r}; expected an object with members {list(shape.members)}")
            return
        for name in shape.required_members:
            if name not in value:
                out.append(f"{prop_name(f'{path}.{name}' if path else name)}: missing; it is required")
        for name, member_value in value.items():
            member_path = f"{path}.{name}" if path else name
            if name not in shape.members:
                out.append(f"{member_path}: unknown member; allowed: {', '.join(shape.members)}")
                continue
            _check(shape.members[name], member_value, member_path, out)
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list | tuple):
            out.append(f"{prop_name(path)}: got {value!r}; expected a list")
            return
        _check_size(meta, len(value), path, "items", out)
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}[{i}]", out)
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            out.append(f"{prop_name(path)}: got {value!r}; expected a mapping")
            return
        _check_size(meta, len(value), path, "entries", out)
        for key, item in value.items():
            _check(shape.key, key, f"{path} key {key!r}", out)
            _check(shape.value, item, f"{path}[{key!r}]", out)
        return
    _check_scalar(shape, value, path, out)


def _check_size(meta: dict[str, Any], size: int, path: str, noun: str, out: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        out.append(f"{prop_name(path)}: got {size} {noun}; at least {meta['min']} allowed")
    if "max" in meta and size > meta["max"]:
        out.append(f"{prop_name(path)}: got {size} {noun}; at most {meta['max']} allowed")


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern, compiled once; ``None`` for a Java-only construct (left to the API)."""
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None


def _check_scalar(shape: Shape, value: Any, path: str, out: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            out.append(f"{prop_name(path)}: got {value!r}; expected a string")
            return
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum and value not in enum:
            out.append(f"{prop_name(path)}: got {value!r}; {_describe_enum(value, list(enum))}{UNKNOWN_ENUM_MARK}")
            return
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{prop_name(path)}: got {value!r}; at least {meta['min']} characters")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{prop_name(path)}: got a value of {len(value)} characters; at most {meta['max']} allowed")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None  # (token-bearing strings returned early)
        if compiled is not None and compiled.fullmatch(value) is None:
            out.append(f"{prop_name(path)}: got {value!r}; must match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{prop_name(path)}: got {value!r}; expected a whole number")
            return
        if "min" in meta and value < meta["min"]:
            out.append(f"{prop_name(path)}: got {value!r}; must be >= {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(f"{prop_name(path)}: got {value!r}; must be <= {meta['max']}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{prop_name(path)}: got {value!r}; expected a number")
    elif kind == "boolean" and not isinstance(value, bool):
        out.append(f"{prop_name(path)}: got {value!r}; expected true or false")


def model_problems(request: Mapping[str, Any]) -> list[str]:
    """Problems of ``request`` (a CreateTrainingJob request) per botocore's SageMaker model."""
    return [p.replace(UNKNOWN_ENUM_MARK, "") for p in _all_problems(request)]


def split_unknown_enum_values(request: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, values the local model does not list): for ``ALLOW_UNKNOWN_ENUM_VALUES``, an
    instance type or algorithm newer than the installed botocore is a warning, not an error."""
    problems, unknown = [], []
    for problem in _all_problems(request):
        if problem.endswith(UNKNOWN_ENUM_MARK):
            unknown.append(problem[: -len(UNKNOWN_ENUM_MARK)])
        else:
            problems.append(problem)
    return problems, unknown


def _all_problems(request: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    _check(_create_request_shape(), dict(request), "", out)
    return out


def request_problems(scope: IConstruct, stack: Stack, request: Mapping[str, Any], problems: Problems) -> None:
    """Adds the problems of ``scope``'s rendered ``request`` per the API model; enum values the
    local model does not know are warnings instead when the context sets ``ALLOW_UNKNOWN_ENUM_VALUES``."""
    found, unknown = split_unknown_enum_values(request)
    if per_object(stack, "unknown enums", lambda: bool(scope.node.try_get_context(ALLOW_UNKNOWN_ENUM_VALUES))):
        for value in unknown:
            Annotations.of(scope).add_warning_v2(
                "@constructs-lib/unknown-enum-value", f"{value} (accepted: {ALLOW_UNKNOWN_ENUM_VALUES} is set)"
            )
    else:
        hint = f" (newer than the installed botocore? set the context {ALLOW_UNKNOWN_ENUM_VALUES}: true)"
        found += [value + hint for value in unknown]
    problems.extend_new(found)
