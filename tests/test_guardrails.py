"""The handler may start only jobs the stack defines: CreateTrainingJob's IAM conditions."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms

from constructs_lib import (
    Channel,
    FileSystemLocation,
    FileSystemType,
    JobRemovalBehavior,
    TrainingImage,
    TrainingJob,
)
from constructs_lib.guardrails import Guardrails
from tests.stacks import resources, statements, template

ACCOUNT, REGION = "111111111111", "us-east-1"
KEY_A = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaaaaaa-0000-0000-0000-000000000000"
KEY_B = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/bbbbbbbb-0000-0000-0000-000000000000"


def _stack() -> tuple[cdk.Stack, ecr.IRepository, ec2.IVpc]:
    stack = cdk.Stack(cdk.App(), "Guarded", env=cdk.Environment(account=ACCOUNT, region=REGION))
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-1",
        availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
        private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
    )
    return stack, repo, vpc


def _group(stack: cdk.Stack, name: str) -> ec2.ISecurityGroup:
    return ec2.SecurityGroup.from_security_group_id(stack, name, name, mutable=False)


def _start_statements(tmpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("SageMakerTrainingJobProviderRole"))
    by_sid = {s.get("Sid"): s for s in statements(tmpl, role)}
    return {k: v for k, v in by_sid.items() if k in ("StartStackTrainingJobs", "DeleteStackTrainingJobs")}


def test_several_differing_jobs_pin_the_handler_to_the_union_of_what_they_use() -> None:
    stack, repo, vpc = _stack()
    image = TrainingImage.from_ecr_repository(repo)
    subnets_ab = ec2.SubnetSelection(subnets=vpc.private_subnets[:2])
    TrainingJob(
        stack,
        "Small",
        image=image,
        vpc=vpc,
        vpc_subnets=subnets_ab,
        security_groups=[_group(stack, "sg-1")],
        output_kms_key=kms.Key.from_key_arn(stack, "KeyA", KEY_A),
        enable_network_isolation=True,
        enable_inter_container_traffic_encryption=True,
        max_runtime=cdk.Duration.hours(1),
    )
    TrainingJob(
        stack,
        "Large",
        image=image,
        instance_type="ml.c5.4xlarge",
        instance_count=2,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnets=vpc.private_subnets[2:]),
        security_groups=[_group(stack, "sg-2")],
        output_kms_key=kms.Key.from_key_arn(stack, "KeyB", KEY_B),
        volume_kms_key=kms.Key.from_key_arn(stack, "KeyAForVolumes", KEY_A),
        enable_network_isolation=True,
        keep_alive_period=cdk.Duration.minutes(30),
        max_runtime=cdk.Duration.hours(5),
        training_job_name="nightly-large",
    )
    start = _start_statements(template(stack))
    assert set(start) == {"StartStackTrainingJobs"}  # no DeleteTrainingJob without JobRemovalBehavior.DELETE
    statement = start["StartStackTrainingJobs"]
    assert statement["Action"] == "sagemaker:CreateTrainingJob"
    assert statement["Resource"][1] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/nightly-large"
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {
            "sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.c5.4xlarge"],
            "sagemaker:VpcSubnets": ["subnet-a", "subnet-b", "subnet-c"],
            "sagemaker:VpcSecurityGroupIds": ["sg-1", "sg-2"],
        },
        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:FileSystemId": "true"},
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": "18000"},
        "ArnEquals": {"sagemaker:VolumeKmsKey": [KEY_A], "sagemaker:OutputKmsKey": [KEY_A, KEY_B]},
        "Bool": {"sagemaker:NetworkIsolation": "true"},  # both isolated; traffic encryption only one
        "BoolIfExists": {"sagemaker:EnableRemoteDebug": "false"},
        "NumericLessThanEqualsIfExists": {"sagemaker:KeepAlivePeriod": "1800"},
    }


def test_a_stack_without_vpc_jobs_may_start_none_in_a_vpc() -> None:
    stack, repo, _ = _stack()
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), encrypt_volume=False)
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    assert condition["Null"] == {
        "sagemaker:VpcSubnets": "true",
        "sagemaker:VolumeKmsKey": "true",
        "sagemaker:KeepAlivePeriod": "true",
        "sagemaker:FileSystemId": "true",
    }
    assert "Bool" not in condition  # isolation is off in the stack's only job: nothing to pin


def test_a_stack_mixing_vpc_and_non_vpc_jobs_pins_the_subnets_without_requiring_them() -> None:
    stack, repo, vpc = _stack()
    image = TrainingImage.from_ecr_repository(repo)
    TrainingJob(stack, "InVpc", image=image, vpc=vpc, security_groups=[_group(stack, "sg-1")])
    TrainingJob(stack, "Outside", image=image)
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    assert condition["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert "sagemaker:VpcSubnets" not in condition["Null"]


def test_file_system_channels_pin_their_file_systems() -> None:
    stack, repo, vpc = _stack()
    location = FileSystemLocation("fs-0123abcd", FileSystemType.EFS, "/data/train")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        inputs=[Channel("train", location)],
        vpc=vpc,
        security_groups=[_group(stack, "sg-1")],
    )
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    assert condition["StringEquals"] == {
        "sagemaker:FileSystemId": ["fs-0123abcd"],
        "sagemaker:FileSystemType": ["EFS"],
        "sagemaker:FileSystemAccessMode": ["ro"],
        "sagemaker:FileSystemDirectoryPath": ["/data/train"],
    }
    assert "sagemaker:FileSystemId" not in condition["Null"]


def test_delete_training_job_is_granted_only_to_stacks_that_delete_jobs() -> None:
    stack, repo, _ = _stack()
    image = TrainingImage.from_ecr_repository(repo)
    TrainingJob(stack, "Kept", image=image)
    assert "DeleteStackTrainingJobs" not in _start_statements(template(stack))
    stack, repo, _ = _stack()
    TrainingJob(
        stack, "Deleted", image=TrainingImage.from_ecr_repository(repo), removal_behavior=JobRemovalBehavior.DELETE
    )
    deleting = _start_statements(template(stack))["DeleteStackTrainingJobs"]
    assert deleting["Action"] == "sagemaker:DeleteTrainingJob"
    (job_names,) = deleting["Resource"]
    assert job_names.startswith(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/guarded-")
    assert job_names.endswith("-*")


def test_the_handlers_policies_do_not_grow_with_400_jobs() -> None:
    """The benchmark's shared configuration: 1 job and 400 jobs give the same handler policies."""
    from benchmarks.variants import ours_shared

    def handler_policies(count: int) -> dict[str, Any]:
        stack = cdk.Stack(cdk.App(), "Shared", env=cdk.Environment(account=ACCOUNT, region=REGION))
        ours_shared(stack, count)
        tmpl = template(stack)
        return {
            k: v["Properties"]["PolicyDocument"]
            for k, v in resources(tmpl, "AWS::IAM::Policy").items()
            if k.startswith("SageMakerTrainingJobProvider")
        }

    one, many = handler_policies(1), handler_policies(400)
    assert len(one) == 2
    assert one == many


def test_deploy_time_runtimes_leave_the_runtime_unpinned() -> None:
    guardrails = Guardrails()
    guardrails.add(
        {"ResourceConfig": {"InstanceType": "ml.m5.xlarge"}, "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    )
    assert guardrails.conditions()["NumericLessThanEquals"] == {"sagemaker:MaxRuntimeInSeconds": "60"}
    guardrails.add(
        {
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge"},
            "StoppingCondition": {"MaxRuntimeInSeconds": "${Token[X]}"},
        }
    )
    assert "NumericLessThanEquals" not in guardrails.conditions()
    assert Guardrails().conditions() == {}
