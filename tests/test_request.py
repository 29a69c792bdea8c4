"""The CreateTrainingJob request the handler will send: members, values and API types."""

from __future__ import annotations

import pytest

from constructs_lib import hyperparameter_string
from tests.conftest import load_handler
from tests.handler_support import as_cloudformation_delivers
from tests.stacks import only, template_of
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of


def _request(name: str) -> dict:
    tmpl = template_of(name)
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    return resolve_intrinsics(request_of(job["Properties"]), tmpl)  # type: ignore[no-any-return]


def test_example_request_members_and_types() -> None:
    request = _request("example")
    assert request == {
        "AlgorithmSpecification": {
            "TrainingImage": "111111111111.dkr.ecr.us-east-1.amazonaws.com/my-training:1.0",
            "TrainingInputMode": "File",
        },
        "RoleArn": request["RoleArn"],
        "OutputDataConfig": {
            "S3OutputPath": request["OutputDataConfig"]["S3OutputPath"],
            "KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/sagemakertrainingstoragekey10f3a471",
        },
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/sagemakertrainingstoragekey10f3a471",
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "HyperParameters": {"epochs": "10", "learning_rate": "0.01", "early_stopping": "true"},
    }
    assert request["RoleArn"].startswith("arn:aws:iam::111111111111:role/trainrole")
    assert request["OutputDataConfig"]["S3OutputPath"].startswith("s3://sagemakertrainingstorageoutput")
    assert type(request["ResourceConfig"]["InstanceCount"]) is int
    assert type(request["StoppingCondition"]["MaxRuntimeInSeconds"]) is int


def test_vpc_request_carries_channels_vpc_and_booleans() -> None:
    request = _request("vpc_two_instances")
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 4 * 3600}
    train, validation = request["InputDataConfig"]
    assert train == {
        "ChannelName": "train",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": "s3://training-data-bucket/datasets/train/",
                "S3DataDistributionType": "ShardedByS3Key",
            }
        },
        "ContentType": "text/csv",
        "CompressionType": "Gzip",
    }
    assert validation["InputMode"] == "FastFile"
    vpc = request["VpcConfig"]
    assert len(vpc["Subnets"]) == 2 and all("privatesubnet" in s for s in vpc["Subnets"])
    assert vpc["SecurityGroupIds"] == ["distributedsecuritygroupf0d9a1c7-groupid"]


def test_user_supplied_request_uses_the_users_role_buckets_and_key() -> None:
    request = _request("user_supplied")
    key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert request["RoleArn"] == "arn:aws:iam::111111111111:role/role1abcc5f0"
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://team-models/xgb/models/", "KmsKeyId": key}
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert request["ResourceConfig"]["VolumeSizeInGB"] == 50
    assert request["Tags"] == [{"Key": "cost-center", "Value": "1234"}, {"Key": "team", "Value": "ml-platform"}]
    assert request["HyperParameters"] == {"num_round": "100", "eta": "0.2", "objective": "binary:logistic"}


def test_handler_reads_the_structured_request_with_the_api_types() -> None:
    """The request travels as structured properties (schema 2), stringified by CloudFormation."""
    handler = load_handler()
    tmpl = template_of("vpc_two_instances")
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    props = resolve_intrinsics(job["Properties"], tmpl)
    assert props["SchemaVersion"] == "2" and isinstance(props["Request"], dict)
    assert props["Request"]["HyperParameters"] == {"epochs": "3"}  # a reviewer sees each member
    parsed = handler.parse_props(as_cloudformation_delivers(props))
    assert parsed.request == props["Request"]  # every type restored
    assert parsed.request["ResourceConfig"]["InstanceCount"] == 2
    assert parsed.request["EnableInterContainerTrafficEncryption"] is True
    assert parsed.name_prefix == props["JobNamePrefix"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (10, "10"), (0.01, "0.01"), (1e-05, "1e-05"), (2.0, "2.0"), ("adam", "adam")],
)
def test_hyperparameters_become_strings_one_documented_way(value: object, text: str) -> None:
    assert hyperparameter_string(value) == text  # type: ignore[arg-type]
