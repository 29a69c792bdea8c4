"""The ways to launch N training jobs from one CDK stack that the benchmark compares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr

from constructs_lib import Channel, S3Location, SourceCode, TrainingImage, TrainingJob

IMAGE_TAG = "1.0"


def _common(stack: cdk.Stack) -> tuple[ecr.IRepository, s3.IBucket]:
    return (
        ecr.Repository.from_repository_name(stack, "Repo", "trainer"),
        s3.Bucket.from_bucket_name(stack, "Data", "bench-data"),
    )


def ours_shared(stack: cdk.Stack, count: int) -> None:
    """TrainingJob sharing one role, one bucket and one network."""
    repo, bucket = _common(stack)
    role = iam.Role(stack, "SharedRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0a", "subnet-0b"],
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-0123", mutable=False)
    for i in range(count):
        TrainingJob(
            stack,
            f"Job{i}",
            image=TrainingImage.from_ecr_repository(repo, IMAGE_TAG),
            role=role,
            inputs=[Channel("train", S3Location.from_bucket(bucket, "train/"))],
            output=S3Location.from_bucket(bucket, "models/"),
            vpc=vpc,
            security_groups=[group],
            hyperparameters={"seed": i},
        )


def ours_default(stack: cdk.Stack, count: int) -> None:
    """TrainingJob on defaults: a least-privilege role per job, the stack's output bucket."""
    repo, bucket = _common(stack)
    for i in range(count):
        TrainingJob(
            stack,
            f"Job{i}",
            image=TrainingImage.from_ecr_repository(repo, IMAGE_TAG),
            inputs=[Channel("train", S3Location.from_bucket(bucket, "train/"))],
            hyperparameters={"seed": i},
        )


def aws_custom_resource(stack: cdk.Stack, count: int) -> None:
    """AwsCustomResource calling createTrainingJob (stopTrainingJob on delete), with the
    statements it needs to work: Create/Stop/AddTags on the job, PassRole on the role."""
    repo, bucket = _common(stack)
    role = iam.Role(stack, "SharedRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    repo.grant_pull(role)
    bucket.grant_read(role, "train/*")
    bucket.grant_put(role, "models/*")
    for i in range(count):
        name = f"bench-{i}"
        job_arn = stack.format_arn(service="sagemaker", resource="training-job", resource_name=name)
        cr.AwsCustomResource(
            stack,
            f"Job{i}",
            on_create=cr.AwsSdkCall(
                service="SageMaker",
                action="createTrainingJob",
                parameters={
                    "TrainingJobName": name,
                    "AlgorithmSpecification": {
                        "TrainingImage": repo.repository_uri_for_tag(IMAGE_TAG),
                        "TrainingInputMode": "File",
                    },
                    "RoleArn": role.role_arn,
                    "HyperParameters": {"seed": str(i)},
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {
                                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket.bucket_name}/train/"}
                            },
                        }
                    ],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{bucket.bucket_name}/models/"},
                    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                },
                physical_resource_id=cr.PhysicalResourceId.of(name),
            ),
            on_delete=cr.AwsSdkCall(
                service="SageMaker",
                action="stopTrainingJob",
                parameters={"TrainingJobName": name},
                ignore_error_codes_matching="ValidationException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["sagemaker:CreateTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"],
                        resources=[job_arn],
                    ),
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=[role.role_arn],
                        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
        )


def step_functions_task(stack: cdk.Stack, count: int) -> None:
    """aws_stepfunctions_tasks.SageMakerCreateTrainingJob in a state machine per job."""
    repo, bucket = _common(stack)
    for i in range(count):
        task = tasks.SageMakerCreateTrainingJob(
            stack,
            f"Train{i}",
            training_job_name=f"bench-{i}",
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_ecr_repository(repo, IMAGE_TAG),
                training_input_mode=tasks.InputMode.FILE,
            ),
            hyperparameters={"seed": str(i)},
            input_data_config=[
                tasks.Channel(
                    channel_name="train",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(s3_location=tasks.S3Location.from_bucket(bucket, "train/"))
                    ),
                )
            ],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=tasks.S3Location.from_bucket(bucket, "models/")
            ),
        )
        sfn.StateMachine(stack, f"Machine{i}", definition_body=sfn.DefinitionBody.from_chainable(task))


VARIANTS: dict[str, Callable[[cdk.Stack, int], None]] = {
    "TrainingJob, shared role/bucket/network": ours_shared,
    "TrainingJob, defaults (own role per job)": ours_default,
    "AwsCustomResource (createTrainingJob)": aws_custom_resource,
    "Step Functions task, state machine per job": step_functions_task,
}


EXAMPLE = Path(__file__).parent.parent / "examples" / "script_mode"


def script_mode(stack: cdk.Stack, count: int) -> None:
    """TrainingJob training a local script (a code asset, bundled at synth) on a framework image."""
    _, bucket = _common(stack)
    for i in range(count):
        TrainingJob(
            stack,
            f"Job{i}",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=SourceCode.from_directory(EXAMPLE / "src", "train.py", requirements="requirements.txt"),
            inputs=[Channel("train", S3Location.from_bucket(bucket, "train/"))],
            hyperparameters={"seed": i},
        )


# Script mode against the plain image job it replaces: the cost of a code asset at synth.
SCRIPT_MODE_VARIANTS: dict[str, Callable[[cdk.Stack, int], None]] = {
    "TrainingJob, image with the code (defaults)": ours_default,
    "TrainingJob, local script as a code asset": script_mode,
}
SCRIPT_MODE_SIZES = (1, 10)
