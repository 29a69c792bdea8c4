"""Security groups added after construction (#21.12): the created group is kept, and a group added
with ``add_security_group`` or through ``job.connections`` reaches VpcConfig, the role's network
interface grant and the handler's guardrails, as the Step Functions task's ``addSecurityGroup``."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob, TrainingJobValidationError
from tests.stacks import grants, resources, template

ACCOUNT, REGION = "111111111111", "us-east-1"


def _job(**props: Any) -> tuple[cdk.Stack, TrainingJob]:
    stack = cdk.Stack(cdk.App(), "Groups", env=cdk.Environment(account=ACCOUNT, region=REGION))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-a"]
    )
    image = TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer"))
    return stack, TrainingJob(stack, "Job", image=image, vpc=vpc, **props)


def _imported(stack: cdk.Stack, group_id: str) -> ec2.ISecurityGroup:
    return ec2.SecurityGroup.from_security_group_id(stack, group_id, group_id, mutable=False)


def _job_resource(tmpl: dict[str, Any]) -> dict[str, Any]:
    (resource,) = resources(tmpl, "Custom::SageMakerTrainingJob").values()
    return resource


def _group_ids(tmpl: dict[str, Any]) -> list[Any]:
    return list(_job_resource(tmpl)["Properties"]["Request"]["VpcConfig"]["SecurityGroupIds"])


def _created_group(tmpl: dict[str, Any]) -> str:
    (logical_id,) = resources(tmpl, "AWS::EC2::SecurityGroup")
    return logical_id


def _guardrail_group_ids(tmpl: dict[str, Any]) -> list[Any]:
    for policy in resources(tmpl, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "StartStackTrainingJobsInVpc":
                return list(statement["Condition"]["ForAllValues:StringEquals"]["sagemaker:VpcSecurityGroupIds"])
    raise AssertionError("no guardrail statement for VPC jobs")


def _job_role(tmpl: dict[str, Any]) -> str:
    return next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))


@pytest.mark.parametrize("through", ["add_security_group", "connections"])
def test_an_added_group_joins_the_created_one_in_the_request_the_grant_and_the_guardrails(through: str) -> None:
    stack, job = _job()
    extra = _imported(stack, "sg-extra")
    if through == "connections":
        job.connections.add_security_group(extra)
    else:
        job.add_security_group(extra)
    tmpl = template(stack)
    created = {"Fn::GetAtt": [_created_group(tmpl), "GroupId"]}
    assert _group_ids(tmpl) == [created, "sg-extra"]
    assert job.request["VpcConfig"]["SecurityGroupIds"][1] == "sg-extra"
    assert _guardrail_group_ids(tmpl) == [created, "sg-extra"]
    assert ("ec2:CreateNetworkInterface", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-extra") in grants(
        tmpl, _job_role(tmpl)
    )
    assert [g.security_group_id for g in job.connections.security_groups][1] == "sg-extra"


def test_a_group_added_twice_is_added_once() -> None:
    stack, job = _job()
    extra = _imported(stack, "sg-extra")
    job.add_security_group(extra)
    job.connections.add_security_group(extra)
    assert _group_ids(template(stack))[1:] == ["sg-extra"]


def test_a_distributed_job_admits_an_added_group_from_itself_before_it_starts() -> None:
    stack, job = _job(instance_count=2)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "OtherVpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-a"]
    )
    extra = ec2.SecurityGroup(stack, "Extra", vpc=vpc)
    job.add_security_group(extra)
    tmpl = template(stack)
    (extra_id,) = [k for k in resources(tmpl, "AWS::EC2::SecurityGroup") if k.startswith("Extra")]
    ingress = [
        r
        for r in resources(tmpl, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [extra_id, "GroupId"]}
    ]
    assert [r["Properties"]["SourceSecurityGroupId"] for r in ingress] == [{"Fn::GetAtt": [extra_id, "GroupId"]}]
    ingress_id = next(k for k, r in resources(tmpl, "AWS::EC2::SecurityGroupIngress").items() if r in ingress)
    assert ingress_id in _job_resource(tmpl)["DependsOn"]


def test_a_job_without_a_vpc_refuses_a_group_with_the_reason() -> None:
    stack = cdk.Stack(cdk.App(), "NoVpc", env=cdk.Environment(account=ACCOUNT, region=REGION))
    image = TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer"))
    job = TrainingJob(stack, "Job", image=image)
    with pytest.raises(TrainingJobValidationError, match=r"add_security_group: got .*sg-1.*set vpc"):
        job.add_security_group(_imported(stack, "sg-1"))
