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
    return {k: v for k, v in by_sid.items() if k and k.startswith(("StartStack", "UpdateStack", "DeleteStack"))}


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
    # Every job runs in a VPC: one statement; no DeleteTrainingJob without JobRemovalBehavior.DELETE.
    assert set(start) == {"StartStackTrainingJobsInVpc", "UpdateStackTrainingJobs"}
    statement = start["StartStackTrainingJobsInVpc"]
    assert statement["Action"] == "sagemaker:CreateTrainingJob"
    assert statement["Resource"][1] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/nightly-large"
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {
            "sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.c5.4xlarge"],
            "sagemaker:VpcSubnets": ["subnet-a", "subnet-b", "subnet-c"],
            "sagemaker:VpcSecurityGroupIds": ["sg-1", "sg-2"],
        },
        "Null": {
            "sagemaker:InstanceTypes": "false",
            "sagemaker:VpcSubnets": "false",
            "sagemaker:VpcSecurityGroupIds": "false",
            "sagemaker:FileSystemId": "true",
        },
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": "18000"},
        # SAR 2026-06-03: the key ARN keys replace the deprecated VolumeKmsKey / OutputKmsKey.
        "ArnEquals": {"sagemaker:VolumeKmsKeyArn": [KEY_A], "sagemaker:OutputKmsKeyArn": [KEY_A, KEY_B]},
        "Bool": {"sagemaker:NetworkIsolation": "true"},  # both isolated; traffic encryption only one
        "BoolIfExists": {"sagemaker:EnableRemoteDebug": "false"},
        "NumericLessThanEqualsIfExists": {"sagemaker:KeepAlivePeriod": "1800"},
    }
    # UpdateTrainingJob may not turn remote debugging on nor extend a warm pool beyond the jobs'.
    assert start["UpdateStackTrainingJobs"]["Condition"] == {
        "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.c5.4xlarge"]},
        "BoolIfExists": {"sagemaker:EnableRemoteDebug": "false"},
        "NumericLessThanEqualsIfExists": {"sagemaker:KeepAlivePeriod": "1800"},
    }


def test_a_stack_without_vpc_jobs_may_start_none_in_a_vpc() -> None:
    stack, repo, _ = _stack()
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), encrypt_volume=False)
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    assert condition["Null"] == {
        "sagemaker:InstanceTypes": "false",
        "sagemaker:VpcSubnets": "true",
        "sagemaker:VolumeKmsKeyArn": "true",
        "sagemaker:KeepAlivePeriod": "true",
        "sagemaker:FileSystemId": "true",
    }
    assert "Bool" not in condition  # isolation is off in the stack's only job: nothing to pin


def test_a_stack_mixing_vpc_and_non_vpc_jobs_gets_a_statement_for_each_shape() -> None:
    """ForAllValues is true when the key is absent: a statement that pins the subnets of VPC jobs
    must require them (Null false), so jobs without a VPC get a statement that requires none."""
    stack, repo, vpc = _stack()
    image = TrainingImage.from_ecr_repository(repo)
    TrainingJob(stack, "InVpc", image=image, vpc=vpc, security_groups=[_group(stack, "sg-1")])
    TrainingJob(stack, "Outside", image=image, instance_type="ml.c5.xlarge")
    start = _start_statements(template(stack))
    in_vpc, outside = start["StartStackTrainingJobsInVpc"]["Condition"], start["StartStackTrainingJobs"]["Condition"]
    assert in_vpc["ForAllValues:StringEquals"] == {
        "sagemaker:InstanceTypes": ["ml.m5.xlarge"],
        "sagemaker:VpcSubnets": ["subnet-a", "subnet-b", "subnet-c"],
        "sagemaker:VpcSecurityGroupIds": ["sg-1"],
    }
    assert in_vpc["Null"]["sagemaker:VpcSubnets"] == in_vpc["Null"]["sagemaker:VpcSecurityGroupIds"] == "false"
    assert outside["ForAllValues:StringEquals"] == {"sagemaker:InstanceTypes": ["ml.c5.xlarge"]}
    assert outside["Null"]["sagemaker:VpcSubnets"] == "true"


def test_rule_instance_types_are_instance_types_of_the_request() -> None:
    """SAR: sagemaker:InstanceTypes is "the list of all instance types associated with the resource in
    the request": Debugger and Profiler rule evaluations run on their own types."""
    from constructs_lib import RuleConfiguration

    stack, repo, _ = _stack()
    rule = RuleConfiguration(
        "LossNotDecreasing", "111111111111.dkr.ecr.us-east-1.amazonaws.com/rules:1", instance_type="ml.t3.medium"
    )
    profiler_rule = RuleConfiguration(
        "ProfilerReport", "111111111111.dkr.ecr.us-east-1.amazonaws.com/rules:1", instance_type="ml.m5.large"
    )
    TrainingJob(
        stack, "Job", image=TrainingImage.from_ecr_repository(repo), debug_rules=[rule], profiler_rules=[profiler_rule]
    )
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    assert condition["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"] == [
        "ml.m5.xlarge",
        "ml.t3.medium",
        "ml.m5.large",
    ]


def test_serverless_jobs_require_no_instance_types_and_instance_jobs_require_theirs() -> None:
    guardrails = Guardrails()
    guardrails.add({"ServerlessJobConfig": {"BaseModelArn": "arn:aws:sagemaker:us-east-1:aws:hub-content/x"}})
    assert guardrails.conditions()["Null"]["sagemaker:InstanceTypes"] == "true"
    assert "ForAllValues:StringEquals" not in guardrails.conditions()
    instance_jobs = Guardrails()
    instance_jobs.add({"ResourceConfig": {"InstanceType": "ml.m5.xlarge"}})
    assert instance_jobs.conditions()["Null"]["sagemaker:InstanceTypes"] == "false"


def test_keys_given_by_alias() -> None:
    """An alias of the app is sent as its key's ARN (what the ...KmsKeyArn keys compare); an
    imported alias stays an alias ARN, and the condition then also admits the account's keys."""
    stack, repo, _ = _stack()
    key = kms.Key(stack, "Key")
    alias = key.add_alias("alias/training")
    imported = kms.Alias.from_alias_name(stack, "Imported", "alias/elsewhere")
    image = TrainingImage.from_ecr_repository(repo)
    job = TrainingJob(stack, "Aliased", image=image, output_kms_key=alias)
    TrainingJob(stack, "ImportedAlias", image=image, output_kms_key=imported)
    assert stack.resolve(job.request["OutputDataConfig"]["KmsKeyId"]) == stack.resolve(key.key_arn)
    condition = _start_statements(template(stack))["StartStackTrainingJobs"]["Condition"]
    allowed = condition["ArnLikeIfExists" if "ArnLikeIfExists" in condition else "ArnLike"]["sagemaker:OutputKmsKeyArn"]
    key_id = stack.get_logical_id(key.node.default_child).lower()  # type: ignore[arg-type]  # template() stands a key ARN in for GetAtt
    assert sorted(allowed) == [
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/elsewhere",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}",
    ]


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
    condition = _start_statements(template(stack))["StartStackTrainingJobsInVpc"]["Condition"]
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
