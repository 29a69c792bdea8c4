"""Heterogeneous clusters: ResourceConfig.InstanceGroups, channels per group, and their rules."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr

from constructs_lib import Channel, InstanceGroup, S3Location, TrainingImage, TrainingJob, TrainingJobValidationError
from tests.stacks import only, resources, template
from tools.summary import request_of

ENV = cdk.Environment(account="111111111111", region="us-east-1")
GROUPS = [InstanceGroup("data", "ml.c5.4xlarge", 2), InstanceGroup("gpu", "ml.g5.2xlarge", 1)]
TO_CPU = [Channel("train", S3Location.from_uri("s3://bucket/train/"), instance_group_names=["cpu"])]
IMAGE = "111111111111.dkr.ecr.us-east-1.amazonaws.com/t:1"


def _job(stack: cdk.Stack, **props: Any) -> TrainingJob:
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    return TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **props)


def _request(stack: cdk.Stack) -> dict[str, Any]:
    _, job = only(template(stack), "Custom::SageMakerTrainingJob")
    return request_of(job["Properties"])  # type: ignore[no-any-return]


def test_groups_render_without_a_phantom_instance_type_and_channels_name_their_groups() -> None:
    stack = cdk.Stack(cdk.App(), "Hetero", env=ENV)
    data = S3Location.from_uri("s3://bucket/train/")
    _job(stack, instance_groups=GROUPS, inputs=[Channel("train", data, instance_group_names=["data"])])
    request = _request(stack)
    assert request["ResourceConfig"]["InstanceGroups"] == [
        {"InstanceGroupName": "data", "InstanceType": "ml.c5.4xlarge", "InstanceCount": 2},
        {"InstanceGroupName": "gpu", "InstanceType": "ml.g5.2xlarge", "InstanceCount": 1},
    ]
    assert "InstanceType" not in request["ResourceConfig"] and "InstanceCount" not in request["ResourceConfig"]
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]  # ml.g5 has NVMe: no default volume key
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["InstanceGroupNames"] == ["data"]


def test_the_guardrails_allow_every_groups_instance_type() -> None:
    stack = cdk.Stack(cdk.App(), "HeteroGuard", env=ENV)
    _job(stack, instance_groups=GROUPS)
    tmpl = template(stack)
    (policy,) = [
        p for k, p in resources(tmpl, "AWS::IAM::Policy").items() if k.startswith("SageMakerTrainingJobProviderStart")
    ]
    condition = policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]
    assert condition["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"] == ["ml.c5.4xlarge", "ml.g5.2xlarge"]


def test_a_multi_instance_cluster_in_a_vpc_admits_itself() -> None:
    stack = cdk.Stack(cdk.App(), "HeteroVpc", env=ENV)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-a"]
    )
    job = _job(
        stack, instance_groups=[InstanceGroup("a", "ml.c5.xlarge", 1), InstanceGroup("b", "ml.m5.xlarge", 1)], vpc=vpc
    )
    assert job.instance_count == 2
    assert len(resources(template(stack), "AWS::EC2::SecurityGroupIngress")) == 1


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"instance_groups": GROUPS, "instance_type": "ml.m5.xlarge"}, r"leave instance_type and instance_count unset"),
        ({"instance_groups": GROUPS, "instance_count": 2}, r"leave instance_type and instance_count unset"),
        (
            {"instance_groups": [InstanceGroup("a", "ml.c5.xlarge"), InstanceGroup("a", "ml.m5.xlarge")]},
            r"InstanceGroupName\): got 'a'; names must be unique",
        ),
        (
            {"instance_groups": GROUPS, "inputs": TO_CPU},
            r"inputs\[0\].instance_group_names \(InputDataConfig\[0\].DataSource.S3DataSource.InstanceGroupNames\): "
            r"got 'cpu'; one of data, gpu",
        ),
        (
            {"inputs": TO_CPU},
            r"instance_groups to be set",
        ),
        ({"instance_groups": [InstanceGroup("a", "ml.c5.xlarge", 0)]}, r"InstanceGroups\[0\].InstanceCount\): got 0"),
        (
            {"instance_groups": "gpu"},
            r"instance_groups \(ResourceConfig.InstanceGroups\): got 'gpu'; a list of InstanceGroup",
        ),
    ],
)
def test_cluster_mistakes_are_refused_naming_the_member(props: dict[str, Any], expected: str) -> None:
    with pytest.raises(TrainingJobValidationError, match=expected):
        _job(cdk.Stack(cdk.App(), "Bad", env=ENV), **props)


def test_a_cli_document_with_instance_groups_maps_to_typed_props() -> None:
    document: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": "111111111111.dkr.ecr.us-east-1.amazonaws.com/t:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::111111111111:role/TrainingRole",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://bucket/train/",
                        "InstanceGroupNames": ["data"],
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {
            "InstanceGroups": [
                {"InstanceGroupName": "data", "InstanceType": "ml.c5.4xlarge", "InstanceCount": 2},
                {"InstanceGroupName": "gpu", "InstanceType": "ml.g5.2xlarge", "InstanceCount": 1},
            ],
            "VolumeSizeInGB": 50,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    stack = cdk.Stack(cdk.App(), "HeteroCli", env=ENV)
    job = TrainingJob.from_cli_input_json(stack, "Job", document)
    assert [g.instance_group_name for g in job.instance_groups] == ["data", "gpu"]
    request = _request(stack)
    assert request["ResourceConfig"] == document["ResourceConfig"]
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["InstanceGroupNames"] == ["data"]
    assert cdk.assertions.Annotations.from_stack(stack).find_warning("*", cdk.assertions.Match.any_value()) == []
