"""Members that say how the job runs: rendered where the API has them; session tag chaining
also lets SageMaker tag its session with the created role."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob
from tests.stacks import only, resources, template
from tools.summary import request_of

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def test_run_settings_render_where_the_api_has_them_and_chaining_extends_the_trust() -> None:
    stack = cdk.Stack(cdk.App(), "Settings", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        container_entrypoint=["python", "train.py"],
        container_arguments=["--epochs", "3"],
        retry_attempts=2,
        max_pending_time=cdk.Duration.hours(1),
        enable_remote_debug=True,
        enable_infra_check=True,
        enable_session_tag_chaining=True,
    )
    tmpl = template(stack)
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    request = request_of(job["Properties"])
    assert request["AlgorithmSpecification"]["ContainerEntrypoint"] == ["python", "train.py"]
    assert request["AlgorithmSpecification"]["ContainerArguments"] == ["--epochs", "3"]
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert request["StoppingCondition"]["MaxPendingTimeInSeconds"] == 3600
    assert request["RemoteDebugConfig"] == {"EnableRemoteDebug": True}
    assert request["InfraCheckConfig"] == {"EnableInfraCheck": True}
    assert request["SessionChainingConfig"] == {"EnableSessionTagChaining": True}
    (role,) = [r for k, r in resources(tmpl, "AWS::IAM::Role").items() if k.startswith("JobRole")]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}


def test_without_chaining_the_trust_allows_only_assume_role() -> None:
    stack = cdk.Stack(cdk.App(), "Plain", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo))
    (role,) = [r for k, r in resources(template(stack), "AWS::IAM::Role").items() if k.startswith("JobRole")]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"


def test_a_cli_document_maps_the_run_settings_and_warns_that_its_role_needs_tag_session() -> None:
    document = {
        "AlgorithmSpecification": {
            "TrainingImage": "111111111111.dkr.ecr.us-east-1.amazonaws.com/t:1",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", "train.py"],
        },
        "RoleArn": "arn:aws:iam::111111111111:role/TrainingRole",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxPendingTimeInSeconds": 7200},
        "RetryStrategy": {"MaximumRetryAttempts": 3},
        "SessionChainingConfig": {"EnableSessionTagChaining": True},
    }
    stack = cdk.Stack(cdk.App(), "Cli", env=ENV)
    TrainingJob.from_cli_input_json(stack, "Job", document)
    request = request_of(only(template(stack), "Custom::SageMakerTrainingJob")[1]["Properties"])
    for member in ("RetryStrategy", "SessionChainingConfig"):
        assert request[member] == document[member]
    assert request["StoppingCondition"] == document["StoppingCondition"]
    match = cdk.assertions.Match.string_like_regexp("sts:TagSession")
    assert cdk.assertions.Annotations.from_stack(stack).find_warning("*", match)
