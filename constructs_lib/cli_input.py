"""``aws sagemaker create-training-job --cli-input-json`` documents, read into TrainingJob props.

ARNs, ids and URIs become CDK references where that gives least-privilege grants: the role
ARN an imported role (the job's statements attached as a policy), S3 URIs bucket + prefix
locations, KMS key ids imported keys, subnet and security group ids imported subnets and
groups. Members without a typed
prop travel as ``overrides``; unknown members are errors.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .capacity import InstancePlacementConfig, InstancePreference, PlacementSpecification
from .channel import (
    Channel,
    CompressionType,
    DatasetSource,
    FileSystemAccessMode,
    FileSystemLocation,
    FileSystemType,
    InputMode,
    RecordWrapperType,
    S3DataDistributionType,
    S3DataType,
)
from .debugging import CollectionConfiguration, DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .errors import Problems, TrainingJobValidationError
from .image import TrainingImage, TrainingRepositoryAccessMode
from .instance_group import InstanceGroup
from .nag import acknowledge_rule
from .request import OutputCompressionType
from .s3_location import S3Location
from .serverless import CustomizationTechnique, EvaluationType, Peft, ServerlessJobConfig, ServerlessJobType
from .tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig
from .validation import model_problems

_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z\-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9\-_]+(:[a-zA-Z0-9\-_$]+)?$")
_KMS_ARN = re.compile(r"^arn:aws[a-z\-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


def load_document(document: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A dict, a JSON string, a path to a JSON file, or ``file://path`` as the CLI takes it."""
    if isinstance(document, Mapping):
        return copy.deepcopy(dict(document))
    text = os.fspath(document)
    if isinstance(document, os.PathLike) or text.startswith("file://") or not text.lstrip().startswith(("{", "[")):
        path = Path(text.removeprefix("file://"))
        try:
            text = path.read_text()
        except OSError as error:
            raise TrainingJobValidationError(
                "cli_input_json", [f"document: cannot read {str(path)!r} ({error.strerror})"]
            ) from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainingJobValidationError("cli_input_json", [f"document: not valid JSON ({error})"]) from None
    if not isinstance(loaded, dict):
        raise TrainingJobValidationError(
            "cli_input_json", [f"document: got {type(loaded).__name__}; expected a JSON object"]
        )
    return loaded


def parse_shorthand_map(text: str) -> dict[str, str]:
    """``KeyName1=string,KeyName2=string`` (the CLI's shorthand for a map)."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(pair)
        result[key.strip()] = value.strip()
    return result


def parse_shorthand_tags(text: str) -> list[dict[str, str]]:
    """``Key=string,Value=string Key=string,Value=string`` (the CLI's shorthand for Tags)."""
    tags = []
    for entry in text.split():
        fields = parse_shorthand_map(entry)
        if set(fields) != {"Key", "Value"}:
            raise ValueError(entry)
        tags.append({"Key": fields["Key"], "Value": fields["Value"]})
    return tags


class _Reader:
    """Turns one document into TrainingJob keyword arguments."""

    def __init__(self, scope: Construct, doc: dict[str, Any]) -> None:
        self.scope = scope
        self.doc = doc
        self.problems = Problems()
        self.props: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}

    def enum(self, path: str, kind: Any, value: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            self.problems.add(path, value, f"allowed: {allowed}")
            return None

    def location(self, path: str, uri: Any, key: kms.IKey | None = None) -> S3Location | None:
        try:
            return S3Location.from_uri(uri, encryption_key=key)
        except TrainingJobValidationError:
            self.problems.add(path, uri, "expected s3://<bucket-name>/<key prefix>")
            return None

    def key(self, path: str, key_id: Any) -> kms.IKey | None:
        if not isinstance(key_id, str) or not key_id:
            self.problems.add(path, key_id, "a KMS key id, key ARN, alias name or alias ARN")
            return None
        construct_id = path.replace(".", "")
        if key_id.startswith("alias/") or ":alias/" in key_id:
            return kms.Alias.from_alias_name(self.scope, construct_id, key_id.split(":", 5)[-1])
        if _KMS_ARN.match(key_id):
            return kms.Key.from_key_arn(self.scope, construct_id, key_id)
        if re.fullmatch(r"[a-zA-Z0-9-]+", key_id):
            arn = Stack.of(self.scope).format_arn(service="kms", resource="key", resource_name=key_id)
            return kms.Key.from_key_arn(self.scope, construct_id, arn)
        self.problems.add(path, key_id, "a KMS key id, key ARN, alias name or alias ARN")
        return None

    def function(self, path: str, function_arn: str | None) -> lambda_.IFunction | None:
        if function_arn is None:
            return None
        if not _FUNCTION_ARN.match(function_arn):
            self.problems.add(
                path, function_arn, "a Lambda function ARN, arn:aws:lambda:<region>:<account>:function:<name>"
            )
            return None
        return lambda_.Function.from_function_arn(self.scope, "CredentialsProvider", function_arn)

    def leftovers(self, prefix: str, section: Mapping[str, Any], typed: set[str]) -> None:
        for member, value in section.items():
            if member not in typed:
                self.overrides[f"{prefix}.{member}"] = value

    def read(self) -> None:
        doc = self.doc
        handlers: dict[str, Callable[[Any], None]] = {
            "TrainingJobName": lambda v: self.props.__setitem__("training_job_name", v),
            "HyperParameters": self.hyperparameters,
            "AlgorithmSpecification": self.algorithm,
            "RoleArn": self.role,
            "InputDataConfig": self.inputs,
            "OutputDataConfig": self.output,
            "ResourceConfig": self.resources,
            "VpcConfig": self.vpc,
            "StoppingCondition": self.stopping,
            "Tags": self.tags,
            "EnableNetworkIsolation": lambda v: self.props.__setitem__("enable_network_isolation", v),
            "EnableInterContainerTrafficEncryption": lambda v: self.props.__setitem__(
                "enable_inter_container_traffic_encryption", v
            ),
            "EnableManagedSpotTraining": lambda v: self.props.__setitem__("enable_managed_spot_training", v),
            "CheckpointConfig": self.checkpoint,
            "Environment": lambda v: self.props.__setitem__("environment", v),
            "DebugHookConfig": self.debug_hook,
            "DebugRuleConfigurations": lambda v: self.rules("DebugRuleConfigurations", "debug_rules", v),
            "ProfilerConfig": self.profiler,
            "ProfilerRuleConfigurations": lambda v: self.rules("ProfilerRuleConfigurations", "profiler_rules", v),
            "TensorBoardOutputConfig": self.tensor_board,
            "RetryStrategy": lambda v: self.props.__setitem__("retry_attempts", v["MaximumRetryAttempts"]),
            "RemoteDebugConfig": lambda v: self.props.__setitem__("enable_remote_debug", v.get("EnableRemoteDebug")),
            "InfraCheckConfig": lambda v: self.props.__setitem__("enable_infra_check", v.get("EnableInfraCheck")),
            "SessionChainingConfig": lambda v: self.props.__setitem__(
                "enable_session_tag_chaining", v.get("EnableSessionTagChaining")
            ),
            "ExperimentConfig": lambda v: self.props.__setitem__(
                "experiment",
                ExperimentConfig(
                    v.get("ExperimentName"), v.get("TrialName"), v.get("TrialComponentDisplayName"), v.get("RunName")
                ),
            ),
            "MlflowConfig": lambda v: self.props.__setitem__(
                "mlflow", MlflowConfig(v["MlflowResourceArn"], v.get("MlflowExperimentName"), v.get("MlflowRunName"))
            ),
            "ModelPackageConfig": lambda v: self.props.__setitem__(
                "model_package", ModelPackageConfig(v["ModelPackageGroupArn"], v.get("SourceModelPackageArn"))
            ),
            "ServerlessJobConfig": self.serverless,
        }
        # Shape first: wrong types and unknown members are reported by the API model.
        shaped = dict(doc)
        if isinstance(shaped.get("HyperParameters"), str):
            shaped["HyperParameters"] = {}
        if isinstance(shaped.get("Tags"), str):
            shaped["Tags"] = []
        shaped.setdefault("TrainingJobName", "placeholder")
        shape_problems = model_problems(shaped)
        if shape_problems:
            self.problems.extend(shape_problems)
            return
        # A document's volumes are encrypted with the key it names, or by SageMaker: never a default key.
        self.props["encrypt_volume"] = False
        for member, value in doc.items():
            handler = handlers.get(member)
            if handler is None:
                self.overrides[member] = value
            else:
                handler(value)

    def shorthand(self, member: str, value: Any, parse: Callable[[str], Any], syntax: str) -> Any:
        """``value``, or the CLI shorthand it is written in, parsed; None when malformed."""
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except ValueError as bad:
            self.problems.add(member, str(bad), f"shorthand is {syntax}")
            return None

    def hyperparameters(self, value: Any) -> None:
        parsed = self.shorthand("HyperParameters", value, parse_shorthand_map, "KeyName1=string,KeyName2=string")
        if parsed is not None:
            self.props["hyperparameters"] = dict(parsed)

    def tags(self, value: Any) -> None:
        parsed = self.shorthand("Tags", value, parse_shorthand_tags, "Key=string,Value=string Key=string,Value=string")
        if parsed is not None:
            self.props["tags"] = {t["Key"]: t["Value"] for t in parsed}

    def algorithm(self, spec: Mapping[str, Any]) -> None:
        if "TrainingImage" in spec:
            config = spec.get("TrainingImageConfig", {})
            mode = config.get("TrainingRepositoryAccessMode")
            provider = config.get("TrainingRepositoryAuthConfig", {}).get("TrainingRepositoryCredentialsProviderArn")
            self.props["image"] = TrainingImage.from_registry(
                spec["TrainingImage"],
                repository_access_mode=self.enum(
                    "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAccessMode",
                    TrainingRepositoryAccessMode,
                    mode,
                )
                if mode is not None
                else None,
                credentials_provider=self.function(
                    "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAuthConfig."
                    "TrainingRepositoryCredentialsProviderArn",
                    provider,
                ),
            )
        if "AlgorithmName" in spec:
            self.props["algorithm_name"] = spec["AlgorithmName"]
        self.props["input_mode"] = self.enum(
            "AlgorithmSpecification.TrainingInputMode", InputMode, spec["TrainingInputMode"]
        )
        if "MetricDefinitions" in spec:
            self.props["metric_definitions"] = {m["Name"]: m["Regex"] for m in spec["MetricDefinitions"]}
        if "EnableSageMakerMetricsTimeSeries" in spec:
            self.props["enable_sage_maker_metrics_time_series"] = spec["EnableSageMakerMetricsTimeSeries"]
        if "ContainerEntrypoint" in spec:
            self.props["container_entrypoint"] = spec["ContainerEntrypoint"]
        if "ContainerArguments" in spec:
            self.props["container_arguments"] = spec["ContainerArguments"]
        typed = {
            "ContainerEntrypoint",
            "ContainerArguments",
            *(("TrainingImageConfig",) if "TrainingImage" in spec else ()),
            "TrainingImage",
            "AlgorithmName",
            "TrainingInputMode",
            "MetricDefinitions",
            "EnableSageMakerMetricsTimeSeries",
        }
        self.leftovers("AlgorithmSpecification", spec, typed)

    def role(self, arn: str) -> None:
        if not _ROLE_ARN.match(arn):
            self.problems.add("RoleArn", arn, "an IAM role ARN, arn:aws:iam::<account>:role/<name>")
            return
        # Mutable, as CDK imports roles by default: the job's least-privilege statements are
        # attached to it as a new inline policy (pass role= to use a role exactly as it is).
        role = iam.Role.from_role_arn(self.scope, "Role", arn)
        acknowledge_rule(
            role,
            "IAMNoInlinePolicy",
            "The job's least-privilege statements, generated for this job and attached to the role the "
            "document names; an inline policy cannot be attached to another principal.",
        )
        self.props["role"] = role

    def inputs(self, channels: list[Mapping[str, Any]]) -> None:
        for i, raw in enumerate(channels):
            if len(raw["DataSource"]) != 1:
                self.problems.add(
                    f"InputDataConfig[{i}].DataSource",
                    raw["DataSource"],
                    "exactly one of S3DataSource, FileSystemDataSource, DatasetSource",
                )
        if self.problems:
            return
        if any(set(c["DataSource"]) - {"S3DataSource", "FileSystemDataSource", "DatasetSource"} for c in channels):
            # A channel kind newer than the library: keep the list as is.
            self.overrides["InputDataConfig"] = channels
            return
        typed_channel = {
            "ChannelName",
            "DataSource",
            "ContentType",
            "CompressionType",
            "RecordWrapperType",
            "InputMode",
            "ShuffleConfig",
        }
        result = []
        for i, raw in enumerate(channels):
            where = f"InputDataConfig[{i}]"
            options: dict[str, Any] = {}
            if "S3DataSource" in raw["DataSource"]:
                source = raw["DataSource"]["S3DataSource"]
                data: Any = self.location(f"{where}.DataSource.S3DataSource.S3Uri", source["S3Uri"])
                options["s3_data_type"] = self.enum(f"{where}...S3DataType", S3DataType, source["S3DataType"])
                if "S3DataDistributionType" in source:
                    options["distribution"] = self.enum(
                        f"{where}...S3DataDistributionType", S3DataDistributionType, source["S3DataDistributionType"]
                    )
                if "AttributeNames" in source:
                    options["attribute_names"] = source["AttributeNames"]
                if "InstanceGroupNames" in source:
                    options["instance_group_names"] = source["InstanceGroupNames"]
                if "ModelAccessConfig" in source:
                    options["accept_eula"] = source["ModelAccessConfig"]["AcceptEula"]
                if "HubAccessConfig" in source:
                    options["hub_content_arn"] = source["HubAccessConfig"]["HubContentArn"]
                typed_source = {
                    "S3DataType",
                    "S3Uri",
                    "S3DataDistributionType",
                    "AttributeNames",
                    "InstanceGroupNames",
                    "ModelAccessConfig",
                    "HubAccessConfig",
                }
                self.leftovers(f"{where}.DataSource.S3DataSource", source, typed_source)
            elif "DatasetSource" in raw["DataSource"]:
                data = DatasetSource(raw["DataSource"]["DatasetSource"]["DatasetArn"])
            else:
                fs = raw["DataSource"]["FileSystemDataSource"]
                data = FileSystemLocation(
                    file_system_id=fs["FileSystemId"],
                    file_system_type=self.enum(f"{where}...FileSystemType", FileSystemType, fs["FileSystemType"]),
                    directory_path=fs["DirectoryPath"],
                    access_mode=self.enum(
                        f"{where}...FileSystemAccessMode", FileSystemAccessMode, fs["FileSystemAccessMode"]
                    ),
                )
            if "ContentType" in raw:
                options["content_type"] = raw["ContentType"]
            if "CompressionType" in raw:
                options["compression"] = self.enum(f"{where}.CompressionType", CompressionType, raw["CompressionType"])
            if "RecordWrapperType" in raw:
                options["record_wrapper"] = self.enum(
                    f"{where}.RecordWrapperType", RecordWrapperType, raw["RecordWrapperType"]
                )
            if "InputMode" in raw:
                options["input_mode"] = self.enum(f"{where}.InputMode", InputMode, raw["InputMode"])
            if "ShuffleConfig" in raw:
                options["shuffle_seed"] = raw["ShuffleConfig"]["Seed"]
            self.leftovers(where, raw, typed_channel)
            if data is not None:
                result.append(Channel(raw["ChannelName"], data, **options))
        self.props["inputs"] = result

    def output(self, config: Mapping[str, Any]) -> None:
        key = self.key("OutputDataConfig.KmsKeyId", config["KmsKeyId"]) if config.get("KmsKeyId") else None
        self.props["output"] = self.location("OutputDataConfig.S3OutputPath", config["S3OutputPath"], key)
        self.props["output_kms_key"] = key
        if "CompressionType" in config:
            self.props["output_compression"] = self.enum(
                "OutputDataConfig.CompressionType", OutputCompressionType, config["CompressionType"]
            )
        self.leftovers("OutputDataConfig", config, {"KmsKeyId", "S3OutputPath", "CompressionType"})

    def resources(self, config: Mapping[str, Any]) -> None:
        if "InstanceGroups" in config:
            self.props["instance_groups"] = [
                InstanceGroup(g["InstanceGroupName"], g["InstanceType"], g["InstanceCount"])
                for g in config["InstanceGroups"]
            ]
        if "InstanceType" in config:
            self.props["instance_type"] = config["InstanceType"]
        if "InstanceCount" in config:
            self.props["instance_count"] = config["InstanceCount"]
        if "VolumeSizeInGB" in config:
            self.props["volume_size"] = Size.gibibytes(config["VolumeSizeInGB"])
        if config.get("VolumeKmsKeyId"):
            self.props["volume_kms_key"] = self.key("ResourceConfig.VolumeKmsKeyId", config["VolumeKmsKeyId"])
        if "KeepAlivePeriodInSeconds" in config:
            self.props["keep_alive_period"] = Duration.seconds(config["KeepAlivePeriodInSeconds"])
        if "TrainingPlanArn" in config:
            self.props["training_plan_arn"] = config["TrainingPlanArn"]
        if "InstancePlacementConfig" in config:
            placement = config["InstancePlacementConfig"]
            self.props["instance_placement"] = InstancePlacementConfig(
                placement.get("EnableMultipleJobs"),
                [
                    PlacementSpecification(spec["InstanceCount"], spec.get("UltraServerId"))
                    for spec in placement.get("PlacementSpecifications", [])
                ],
            )
        if "InstancePreferences" in config:
            self.props["instance_preferences"] = [
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
        self.leftovers("ResourceConfig", config, typed)

    def debug_hook(self, config: Mapping[str, Any]) -> None:
        location = self.location("DebugHookConfig.S3OutputPath", config["S3OutputPath"])
        if location is not None:
            collections = [
                CollectionConfiguration(c.get("CollectionName"), c.get("CollectionParameters"))
                for c in config.get("CollectionConfigurations", [])
            ]
            self.props["debug_hook"] = DebugHookConfig(
                location,
                local_path=config.get("LocalPath"),
                hook_parameters=config.get("HookParameters"),
                collections=collections if "CollectionConfigurations" in config else None,
            )

    def rules(self, member: str, prop: str, rules: list[Mapping[str, Any]]) -> None:
        result = []
        for i, rule in enumerate(rules):
            output = rule.get("S3OutputPath")
            location = self.location(f"{member}[{i}].S3OutputPath", output) if output else None
            result.append(
                RuleConfiguration(
                    rule["RuleConfigurationName"],
                    rule["RuleEvaluatorImage"],
                    rule_parameters=rule.get("RuleParameters", {}),
                    s3_output=location,
                    local_path=rule.get("LocalPath"),
                    instance_type=rule.get("InstanceType"),
                    volume_size=Size.gibibytes(rule["VolumeSizeInGB"]) if "VolumeSizeInGB" in rule else None,
                )
            )
        self.props[prop] = result

    def profiler(self, config: Mapping[str, Any]) -> None:
        output = config.get("S3OutputPath")
        interval = config.get("ProfilingIntervalInMilliseconds")
        self.props["profiler"] = ProfilerConfig(
            s3_output=self.location("ProfilerConfig.S3OutputPath", output) if output else None,
            profiling_interval=Duration.millis(interval) if interval is not None else None,
            profiling_parameters=config.get("ProfilingParameters"),
            disable_profiler=config.get("DisableProfiler"),
        )

    def tensor_board(self, config: Mapping[str, Any]) -> None:
        location = self.location("TensorBoardOutputConfig.S3OutputPath", config["S3OutputPath"])
        if location is not None:
            self.props["tensor_board_output"] = TensorBoardOutput(location, local_path=config.get("LocalPath"))

    def serverless(self, config: Mapping[str, Any]) -> None:
        where = "ServerlessJobConfig"
        optional = {
            "customization_technique": ("CustomizationTechnique", CustomizationTechnique),
            "peft": ("Peft", Peft),
            "evaluation_type": ("EvaluationType", EvaluationType),
        }
        options = {
            prop: self.enum(f"{where}.{member}", kind, config[member])
            for prop, (member, kind) in optional.items()
            if member in config
        }
        self.props["serverless"] = ServerlessJobConfig(
            config["BaseModelArn"],
            self.enum(f"{where}.JobType", ServerlessJobType, config["JobType"]),
            accept_eula=config.get("AcceptEula"),
            evaluator=config.get("EvaluatorArn"),
            sequence_length=config.get("SequenceLength"),
            **options,
        )

    def vpc(self, config: Mapping[str, Any]) -> None:
        self.props["security_groups"] = [
            ec2.SecurityGroup.from_security_group_id(self.scope, f"SecurityGroup{i}", group_id, mutable=False)
            for i, group_id in enumerate(config["SecurityGroupIds"])
        ]
        self.props["vpc_subnets"] = ec2.SubnetSelection(
            subnets=[ec2.Subnet.from_subnet_id(self.scope, f"Subnet{i}", s) for i, s in enumerate(config["Subnets"])]
        )

    def stopping(self, condition: Mapping[str, Any]) -> None:
        if "MaxRuntimeInSeconds" in condition:
            self.props["max_runtime"] = Duration.seconds(condition["MaxRuntimeInSeconds"])
        if "MaxWaitTimeInSeconds" in condition:
            self.props["max_wait"] = Duration.seconds(condition["MaxWaitTimeInSeconds"])
        if "MaxPendingTimeInSeconds" in condition:
            self.props["max_pending_time"] = Duration.seconds(condition["MaxPendingTimeInSeconds"])
        typed = {"MaxRuntimeInSeconds", "MaxWaitTimeInSeconds", "MaxPendingTimeInSeconds"}
        self.leftovers("StoppingCondition", condition, typed)

    def checkpoint(self, config: Mapping[str, Any]) -> None:
        self.props["checkpoint"] = self.location("CheckpointConfig.S3Uri", config["S3Uri"])
        if "LocalPath" in config:
            self.props["checkpoint_local_path"] = config["LocalPath"]


def props_from_cli_input(scope: Construct, document: Mapping[str, Any]) -> dict[str, Any]:
    """TrainingJob keyword arguments for a CLI input document; imports are created in ``scope``."""
    reader = _Reader(scope, dict(document))
    reader.read()
    reader.problems.raise_if_any(f"{scope.node.path} (cli input)")
    if reader.overrides:
        reader.props["overrides"] = reader.overrides
    return reader.props
