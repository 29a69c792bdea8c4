"""The CreateTrainingJob request: rendered once, at synth time, as one dict (CDK tokens
inside), and what in it identifies the job."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from .channel import Channel, InputMode
from .instance_group import InstanceGroup
from .s3_location import S3Location

HyperParameterValue = str | int | float | bool | Sequence[Any] | Mapping[str, Any] | None
"""A hyperparameter as given: str, int, float or bool; in script mode (``source_code`` on a framework
image) also lists, dicts and None, JSON-encoded as the SageMaker Python SDK encodes them."""
# Members UpdateTrainingJob changes in place (the handler's IN_PLACE says the same).
IN_PLACE_MEMBERS = ("ProfilerConfig", "RemoteDebugConfig", "ResourceConfig.KeepAlivePeriodInSeconds")


class OutputCompressionType(Enum):
    """Compression of the model artifacts SageMaker uploads."""

    GZIP = "GZIP"
    NONE = "NONE"


def hyperparameter_string(value: HyperParameterValue) -> str:
    """The one documented way hyperparameters become strings.

    ``True``/``False`` -> ``"true"``/``"false"``; ints -> decimal digits; floats -> Python's
    shortest round-trip form (``0.01`` -> ``"0.01"``, ``1e-05`` -> ``"1e-05"``);
    strings unchanged.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    # A structured value outside script mode: refused by the rules (naming its key) before anything
    # deploys; rendered as JSON so that the API model's check does not report it a second time.
    return json.dumps(value, default=repr)


def render_request(
    *,
    role_arn: str,
    image_uri: str | None,
    algorithm_name: str | None,
    input_mode: InputMode,
    metric_definitions: Mapping[str, str],
    enable_sage_maker_metrics_time_series: bool | None,
    hyperparameters: Mapping[str, HyperParameterValue] | None,
    environment: Mapping[str, str] | None,
    inputs: Sequence[Channel],
    output: S3Location,
    output_kms_key_arn: str | None,
    output_compression: OutputCompressionType | None,
    instance_type: str | None,
    instance_count: int | None,
    instance_groups: Sequence[InstanceGroup],
    volume_gib: int,
    volume_kms_key_arn: str | None,
    keep_alive_seconds: int | None,
    security_group_ids: Sequence[str],
    subnet_ids: Sequence[str],
    max_runtime_seconds: int,
    max_wait_seconds: int | None,
    enable_managed_spot_training: bool | None,
    checkpoint: S3Location | None,
    checkpoint_local_path: str | None,
    enable_network_isolation: bool | None,
    enable_inter_container_traffic_encryption: bool | None,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The CreateTrainingJob request, minus ``TrainingJobName`` (the handler names the job).
    Optional members appear only when set (a boolean set to false too, as the SDK and CLI send
    it), so SageMaker's own defaults apply otherwise."""
    algorithm: dict[str, Any] = {"TrainingInputMode": input_mode.value}
    if image_uri is not None:
        algorithm["TrainingImage"] = image_uri
    if algorithm_name is not None:
        algorithm["AlgorithmName"] = algorithm_name
    if metric_definitions:
        algorithm["MetricDefinitions"] = [{"Name": name, "Regex": regex} for name, regex in metric_definitions.items()]
    if enable_sage_maker_metrics_time_series is not None:
        algorithm["EnableSageMakerMetricsTimeSeries"] = enable_sage_maker_metrics_time_series

    output_config: dict[str, Any] = {"S3OutputPath": output.s3_uri}
    if output_kms_key_arn is not None:
        output_config["KmsKeyId"] = output_kms_key_arn
    if output_compression is not None:
        output_config["CompressionType"] = output_compression.value

    # A heterogeneous cluster names its groups; SageMaker then refuses InstanceType/InstanceCount.
    resource_config: dict[str, Any] = {}
    if instance_groups:
        resource_config["InstanceGroups"] = [group.render() for group in instance_groups]
    if instance_type is not None:
        resource_config["InstanceType"] = instance_type
    if instance_count is not None:
        resource_config["InstanceCount"] = instance_count
    resource_config["VolumeSizeInGB"] = volume_gib
    if volume_kms_key_arn is not None:
        resource_config["VolumeKmsKeyId"] = volume_kms_key_arn
    if keep_alive_seconds is not None:
        resource_config["KeepAlivePeriodInSeconds"] = keep_alive_seconds

    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": max_runtime_seconds}
    if max_wait_seconds is not None:
        stopping["MaxWaitTimeInSeconds"] = max_wait_seconds

    request: dict[str, Any] = {
        "AlgorithmSpecification": algorithm,
        "RoleArn": role_arn,
        "OutputDataConfig": output_config,
        "ResourceConfig": resource_config,
        "StoppingCondition": stopping,
    }
    if hyperparameters is not None:  # an empty map too, when given (as the SDK sends it)
        request["HyperParameters"] = {k: hyperparameter_string(v) for k, v in hyperparameters.items()}
    if environment is not None:
        request["Environment"] = dict(environment)
    if inputs:
        request["InputDataConfig"] = [channel.render() for channel in inputs]
    if security_group_ids:
        request["VpcConfig"] = {"SecurityGroupIds": list(security_group_ids), "Subnets": list(subnet_ids)}
    if enable_managed_spot_training is not None:
        request["EnableManagedSpotTraining"] = enable_managed_spot_training
    if checkpoint is not None:
        request["CheckpointConfig"] = {"S3Uri": checkpoint.s3_uri}
        if checkpoint_local_path is not None:
            request["CheckpointConfig"]["LocalPath"] = checkpoint_local_path
    if enable_network_isolation is not None:
        request["EnableNetworkIsolation"] = enable_network_isolation
    if enable_inter_container_traffic_encryption is not None:
        request["EnableInterContainerTrafficEncryption"] = enable_inter_container_traffic_encryption
    if tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return request


def job_identity(request: Mapping[str, Any], name_prefix: str, fixed_name: str | None) -> str:
    """A hash of what identifies the job (as the handler's spec tag does): tags and the
    members updated in place are left out, so only a new job gets a new identity."""
    identity = json.loads(json.dumps(request))
    identity.pop("Tags", None)
    for path in IN_PLACE_MEMBERS:
        *parents, last = path.split(".")
        node = identity
        for parent in parents:
            node = node.get(parent, {})
        node.pop(last, None)
    canonical = json.dumps({"request": identity, "prefix": name_prefix, "name": fixed_name}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def render_run_settings(
    request: dict[str, Any],
    *,
    container_entrypoint: Sequence[str] | None,
    container_arguments: Sequence[str] | None,
    retry_attempts: int | None,
    max_pending_seconds: int | None,
    enable_remote_debug: bool | None,
    enable_infra_check: bool | None,
    enable_session_tag_chaining: bool | None,
) -> None:
    """The members that only say how the job runs (no resource, no permission but the trust's
    ``sts:TagSession`` for session tag chaining); each appears only when set."""
    if container_entrypoint is not None:
        request["AlgorithmSpecification"]["ContainerEntrypoint"] = list(container_entrypoint)
    if container_arguments is not None:
        request["AlgorithmSpecification"]["ContainerArguments"] = list(container_arguments)
    if retry_attempts is not None:
        request["RetryStrategy"] = {"MaximumRetryAttempts": retry_attempts}
    if max_pending_seconds is not None:
        request["StoppingCondition"]["MaxPendingTimeInSeconds"] = max_pending_seconds
    if enable_remote_debug is not None:
        request["RemoteDebugConfig"] = {"EnableRemoteDebug": enable_remote_debug}
    if enable_infra_check is not None:
        request["InfraCheckConfig"] = {"EnableInfraCheck": enable_infra_check}
    if enable_session_tag_chaining is not None:
        request["SessionChainingConfig"] = {"EnableSessionTagChaining": enable_session_tag_chaining}
