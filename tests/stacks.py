"""The stack configurations the tests synthesize, each built once per test process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_efs as efs
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from app import ScriptModeStack, TrainAndServeStack, TrainingExampleStack
from constructs_lib import (
    Channel,
    CompressionType,
    CustomizationTechnique,
    DatasetSource,
    DebugHookConfig,
    EvaluationType,
    ExperimentConfig,
    FileSystemAccessMode,
    FileSystemLocation,
    InputMode,
    InstanceGroup,
    InstancePlacementConfig,
    InstancePreference,
    MlflowConfig,
    ModelPackageConfig,
    OutputCompressionType,
    Peft,
    PlacementSpecification,
    ProfilerConfig,
    RecordWrapperType,
    RuleConfiguration,
    S3DataDistributionType,
    S3DataType,
    S3Location,
    ServerlessJobConfig,
    ServerlessJobType,
    TensorBoardOutput,
    TrainingImage,
    TrainingJob,
    TrainingRepositoryAccessMode,
)
from constructs_lib.nag import acknowledge_rule
from tools.intrinsics import resolve_intrinsics

ENV = cdk.Environment(account="111111111111", region="us-east-1")
# What the test stacks bring as users would (their VPC and its flow log): not the library's to fix.
USERS_OWN = "The user's own VPC in a test stack, not a resource of the library; its findings are the user's."


def _users_own(*constructs: Construct, reason: str = USERS_OWN, file_systems: bool = False) -> None:
    """The findings of what a test stack brings as a user would (VPC, flow log, file systems)."""
    rules = ["VPCDefaultSecurityGroupClosed", "VPCNoUnrestrictedRouteToIGW", "VPCSubnetAutoAssignPublicIpDisabled"]
    rules += ["CloudWatchLogGroupEncrypted", "IAMNoInlinePolicy"]
    rules += ["EFSEncrypted", "EFSInBackupPlan"] if file_systems else []
    for construct in constructs:
        for rule in rules:
            acknowledge_rule(construct, rule, reason)


def new_stack(name: str = "TestStack", env: cdk.Environment | None = ENV) -> cdk.Stack:
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    return cdk.Stack(app, name, env=env, analytics_reporting=False)


def example() -> cdk.Stack:
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    return TrainingExampleStack(app, "TrainingExample", env=ENV, analytics_reporting=False)


def script_mode() -> cdk.Stack:
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    return ScriptModeStack(app, "ScriptModeExample", env=ENV, analytics_reporting=False)


def vpc_two_instances() -> cdk.Stack:
    """A VPC job on 2 instances with two input channels from a data bucket.

    Environment-agnostic (account and region are deploy-time values), which also keeps
    availability zones out of the template."""
    stack = new_stack("VpcTraining", env=None)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    flow_log = ec2.FlowLog(stack, "FlowLog", resource_type=ec2.FlowLogResourceType.from_vpc(vpc))
    _users_own(vpc, flow_log)
    data = s3.Bucket.from_bucket_name(stack, "Data", "training-data-bucket")
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(
        stack,
        "Distributed",
        image=TrainingImage.from_ecr_repository(repo, "2.1"),
        inputs=[
            Channel(
                "train",
                S3Location.from_bucket(data, "datasets/train/"),
                distribution=S3DataDistributionType.SHARDED_BY_S3_KEY,
                compression=CompressionType.GZIP,
                content_type="text/csv",
            ),
            Channel("validation", S3Location.from_bucket(data, "datasets/validation/"), input_mode=InputMode.FAST_FILE),
        ],
        instance_type="ml.c5.2xlarge",
        instance_count=2,
        vpc=vpc,
        max_runtime=cdk.Duration.hours(4),
        enable_inter_container_traffic_encryption=True,
        hyperparameters={"epochs": 3},
    )
    return stack


def user_supplied() -> cdk.Stack:
    """A job whose role, buckets and key the user brings."""
    stack = new_stack("BringYourOwn")
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    role = iam.Role(
        stack, "Role", role_name="my-sagemaker-role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
    )
    data = s3.Bucket.from_bucket_attributes(stack, "Data", bucket_name="team-data", encryption_key=key)
    out = s3.Bucket.from_bucket_name(stack, "Out", "team-models")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_registry("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"),
        role=role,
        inputs=[Channel("train", S3Location.from_bucket(data, "xgb/train/"), content_type="text/libsvm")],
        output=S3Location.from_bucket(out, "xgb/models/"),
        output_kms_key=key,
        instance_type="ml.m5.2xlarge",
        volume_size=cdk.Size.gibibytes(50),
        tags={"team": "ml-platform", "cost-center": "1234"},
        hyperparameters={"num_round": 100, "eta": 0.2, "objective": "binary:logistic"},
    )
    return stack


def train_and_serve() -> cdk.Stack:
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    return TrainAndServeStack(app, "TrainAndServeExample", env=ENV, analytics_reporting=False)


def spot_checkpoints() -> cdk.Stack:
    """Managed spot training that resumes from checkpoints, network-isolated."""
    stack = new_stack("SpotTraining")
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    checkpoints = s3.Bucket.from_bucket_name(stack, "Checkpoints", "training-checkpoints")
    TrainingJob(
        stack,
        "Spot",
        image=TrainingImage.from_ecr_repository(repo, "1.0"),
        instance_type="ml.g5.2xlarge",
        enable_managed_spot_training=True,
        max_runtime=cdk.Duration.hours(2),
        max_wait=cdk.Duration.hours(6),
        checkpoint=S3Location.from_bucket(checkpoints, "runs/spot/"),
        enable_network_isolation=True,
    )
    return stack


# Identifiers the whole-API stack names (its account is ENV's).
RULES_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"
PLAN = "arn:aws:sagemaker:us-east-1:111111111111:training-plan/p5-week"
MLFLOW = "arn:aws:sagemaker:us-east-1:111111111111:mlflow-tracking-server/main"
PACKAGE_GROUP = "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/llm-models"
BASE_MODEL = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/meta-llama-3/1.0.0"
DATASET = "arn:aws:sagemaker:us-east-1:111111111111:hub-content/my-hub/DataSet/chat/1.0.0"
HUB_MODEL = "arn:aws:sagemaker:us-east-1:111111111111:hub-content/my-hub/ModelReference/llama/1.0.0"


def whole_api() -> cdk.Stack:
    """Every typed member of CreateTrainingJob, over the jobs it takes (some members exclude others):
    a private-registry job on a heterogeneous cluster in a VPC with EFS, FSx and S3 channels,
    Debugger, Profiler, TensorBoard, Experiments, MLflow and model registration; a job on a
    training plan with UltraServer placement and an algorithm; one with instance preferences;
    a serverless fine-tuning job on a dataset; a serverless evaluation."""
    stack = new_stack("WholeApi", env=None)  # environment-agnostic: no availability zones in the template
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    flow_log = ec2.FlowLog(stack, "FlowLog", resource_type=ec2.FlowLogResourceType.from_vpc(vpc))
    data = s3.Bucket.from_bucket_name(stack, "Data", "team-data")
    insights = s3.Bucket.from_bucket_name(stack, "Insights", "team-insights")
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    file_system = efs.FileSystem(stack, "Shared", vpc=vpc, encrypted=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    lustre = fsx.LustreFileSystem(
        stack,
        "Scratch",
        vpc=vpc,
        vpc_subnet=vpc.private_subnets[0],
        storage_capacity_gib=1200,
        lustre_configuration=fsx.LustreConfiguration(deployment_type=fsx.LustreDeploymentType.SCRATCH_2),
    )
    _users_own(
        vpc, flow_log, file_system, lustre, reason=USERS_OWN.replace("VPC", "VPC and file systems"), file_systems=True
    )
    credentials = lambda_.Function.from_function_arn(
        stack, "RegistryCredentials", "arn:aws:lambda:us-east-1:111111111111:function:registry-credentials"
    )
    TrainingJob(
        stack,
        "Everything",
        image=TrainingImage.from_registry(
            "registry.example.com/team/trainer:2.1",
            repository_access_mode=TrainingRepositoryAccessMode.VPC,
            credentials_provider=credentials,
        ),
        input_mode=InputMode.FILE,
        metric_definitions={"train:loss": "loss=([0-9.]+)"},
        enable_sage_maker_metrics_time_series=True,
        container_entrypoint=["python", "-m", "trainer"],
        container_arguments=["--epochs", "3"],
        hyperparameters={"epochs": 3, "lr": 0.001},
        environment={"MODEL_FAMILY": "llama"},
        inputs=[
            Channel(
                "train",
                S3Location.from_bucket(data, "train/"),
                s3_data_type=S3DataType.S3_PREFIX,
                distribution=S3DataDistributionType.SHARDED_BY_S3_KEY,
                content_type="application/x-recordio",
                compression=CompressionType.GZIP,
                record_wrapper=RecordWrapperType.RECORD_IO,
                input_mode=InputMode.PIPE,
                shuffle_seed=7,
                instance_group_names=["gpu"],
            ),
            Channel(
                "manifest",
                S3Location.from_bucket(data, "manifests/train.manifest"),
                s3_data_type=S3DataType.AUGMENTED_MANIFEST_FILE,
                attribute_names=["source-ref", "label"],
            ),
            Channel(
                "model",
                S3Location.from_bucket(data, "models/llama/"),
                accept_eula=True,
                hub_content_arn=HUB_MODEL,
            ),
            Channel("shared", FileSystemLocation.from_efs(file_system, "/datasets", FileSystemAccessMode.READ_WRITE)),
            Channel("scratch", FileSystemLocation.from_fsx_lustre(lustre, "/cache")),
        ],
        output=S3Location.from_bucket(insights, "models/", encryption_key=key),
        output_compression=OutputCompressionType.NONE,
        instance_groups=[InstanceGroup("gpu", "ml.p4d.24xlarge", 2), InstanceGroup("cpu", "ml.c5.4xlarge", 1)],
        volume_size=cdk.Size.gibibytes(200),
        keep_alive_period=cdk.Duration.minutes(10),
        vpc=vpc,
        max_runtime=cdk.Duration.hours(8),
        max_pending_time=cdk.Duration.hours(2),
        enable_managed_spot_training=False,
        checkpoint=S3Location.from_bucket(insights, "checkpoints/"),
        checkpoint_local_path="/opt/ml/checkpoints",
        enable_network_isolation=False,
        enable_inter_container_traffic_encryption=True,
        tags={"project": "llm"},
        debug_hook=DebugHookConfig(
            S3Location.from_bucket(insights, "debug/"),
            local_path="/opt/ml/output/tensors",
            hook_parameters={"save_interval": "100"},
            collections={"losses": {"save_interval": "10"}},
        ),
        debug_rules=[
            RuleConfiguration(
                "LossNotDecreasing",
                RULES_IMAGE,
                rule_parameters={"rule_to_invoke": "LossNotDecreasing"},
                s3_output=S3Location.from_bucket(insights, "rules/"),
                local_path="/opt/ml/processing/output/rule",
                instance_type="ml.t3.medium",
                volume_size=cdk.Size.gibibytes(10),
            )
        ],
        profiler=ProfilerConfig(
            S3Location.from_bucket(insights, "profiler/"),
            profiling_interval=cdk.Duration.millis(500),
            profiling_parameters={"DataloaderProfilingConfig": '{"StartStep": 5}'},
            disable_profiler=False,
        ),
        profiler_rules=[
            RuleConfiguration(
                "ProfilerReport",
                RULES_IMAGE,
                {"rule_to_invoke": "ProfilerReport"},
                s3_output=S3Location.from_bucket(insights, "profiler-report/"),
                local_path="/opt/ml/processing/output/rule",
                instance_type="ml.m5.xlarge",
                volume_size=cdk.Size.gibibytes(10),
            )
        ],
        tensor_board_output=TensorBoardOutput(S3Location.from_bucket(insights, "tensorboard/"), "/opt/ml/tb"),
        retry_attempts=2,
        enable_remote_debug=True,
        enable_infra_check=True,
        enable_session_tag_chaining=True,
        experiment=ExperimentConfig("llm", "llm-trial", "training", "run-1"),
        mlflow=MlflowConfig(MLFLOW, "llm", "run-1"),
        model_package=ModelPackageConfig(PACKAGE_GROUP),
    )
    TrainingJob(
        stack,
        "OnPlan",
        algorithm_name="arn:aws:sagemaker:us-east-1:111111111111:algorithm/team-trainer",
        instance_type="ml.p6e-gb200.36xlarge",
        instance_count=4,
        training_plan_arn=PLAN,
        instance_placement=InstancePlacementConfig(
            enable_multiple_jobs=False, placement_specifications=[PlacementSpecification(4, "us-east-1-us-1")]
        ),
        encrypt_volume=False,
    )
    TrainingJob(
        stack,
        "Spot",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "SpotRepo", "trainer")),
        enable_managed_spot_training=True,
        max_runtime=cdk.Duration.hours(2),
        max_wait=cdk.Duration.hours(4),
        volume_kms_key=key,
        checkpoint=S3Location.from_bucket(insights, "checkpoints/spot/"),
    )
    TrainingJob(
        stack,
        "Preferred",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer")),
        instance_preferences=[
            InstancePreference("ml.p5.48xlarge", 1, [PLAN]),
            InstancePreference("ml.p4d.24xlarge", 2),
        ],
    )
    TrainingJob(
        stack,
        "FineTune",
        serverless=ServerlessJobConfig(
            BASE_MODEL,
            ServerlessJobType.FINE_TUNING,
            accept_eula=True,
            customization_technique=CustomizationTechnique.RLVR,
            peft=Peft.LORA,
            evaluator=lambda_.Function.from_function_arn(
                stack, "Reward", "arn:aws:lambda:us-east-1:111111111111:function:reward"
            ),
            sequence_length="8K",
        ),
        inputs=[Channel("train", DatasetSource(DATASET))],
        output=S3Location.from_bucket(insights, "llm/"),
        model_package=ModelPackageConfig(PACKAGE_GROUP, f"{PACKAGE_GROUP.replace('-group', '')}/1"),
    )
    TrainingJob(
        stack,
        "Evaluate",
        serverless=ServerlessJobConfig(
            BASE_MODEL, ServerlessJobType.EVALUATION, evaluation_type=EvaluationType.BENCHMARK
        ),
        inputs=[Channel("eval", DatasetSource(DATASET))],
        output=S3Location.from_bucket(insights, "eval/"),
    )
    return stack


def _from_cli_input(stack_name: str, document: str) -> cdk.Stack:
    stack = new_stack(stack_name)
    TrainingJob.from_cli_input_json(stack, "Job", Path(__file__).parent / "cli_input" / document)
    return stack


CONFIGURATIONS: dict[str, Callable[[], cdk.Stack]] = {
    "example": example,
    "train_and_serve": train_and_serve,
    "vpc_two_instances": vpc_two_instances,
    "user_supplied": user_supplied,
    "spot_checkpoints": spot_checkpoints,
    "cli_input": lambda: _from_cli_input("CliInput", "full.json"),
    "file_system": lambda: _from_cli_input("FileSystem", "file_system.json"),
    "whole_api": whole_api,
    "script_mode": script_mode,
}


@cache
def stack_of(name: str) -> cdk.Stack:
    return CONFIGURATIONS[name]()


@cache
def template_of(name: str) -> dict[str, Any]:
    return dict(assertions.Template.from_stack(stack_of(name)).to_json())


def template(stack: cdk.Stack) -> dict[str, Any]:
    return dict(assertions.Template.from_stack(stack).to_json())


def resources(tmpl: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tmpl["Resources"].items() if v["Type"] == kind}


def only(tmpl: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = resources(tmpl, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def mask_asset_hashes(tmpl: dict[str, Any]) -> dict[str, Any]:
    """Asset hashes change with any byte of the handler; snapshots mask them and nothing else."""
    text = re.sub(r"[0-9a-f]{64}", "<asset-hash>", json.dumps(tmpl, sort_keys=True))
    return json.loads(text)  # type: ignore[no-any-return]


def statements(tmpl: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to one role, intrinsics resolved."""
    found: list[dict[str, Any]] = []
    for policy in resources(tmpl, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            found.extend(resolve_intrinsics(policy["Properties"]["PolicyDocument"]["Statement"], tmpl))
    for inline in tmpl["Resources"][role_logical_id]["Properties"].get("Policies", []):
        found.extend(resolve_intrinsics(inline["PolicyDocument"]["Statement"], tmpl))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(tmpl: dict[str, Any], role_logical_id: str) -> set[tuple[str, str]]:
    """(action, resource) pairs that a role's policies allow."""
    pairs: set[tuple[str, str]] = set()
    for statement in statements(tmpl, role_logical_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, resource))
    return pairs
