"""End to end: the real CDK CLI bootstraps, deploys and destroys against moto on loopback, and
the training jobs arrive wired to the stack's role, buckets, keys, subnets and security group.

Run alone with ``pytest -m e2e``. moto answers a custom resource's Create only: Update and
Delete of ``Custom::SageMakerTrainingJob`` are covered by the handler's own tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tools.local_aws import ACCOUNT, REGION, LocalAws

pytestmark = pytest.mark.e2e
VPC_APP = f"{sys.executable} tests/e2e_app.py"
Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        local.bootstrap()
        yield local


def _physical(resources: Resources, kind: str, contains: str = "") -> list[str]:
    return [r["PhysicalResourceId"] for k, r in resources.items() if r["ResourceType"] == kind and contains in k]


def _deployed_job(
    aws: LocalAws, stack: str, app: str | None = None, context: dict[str, str] | None = None
) -> tuple[dict[str, Any], Resources]:
    outputs = aws.deploy(stack, app=app, context=context)
    cloudformation = aws.client("cloudformation")
    assert cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    summaries = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    resources = {s["LogicalResourceId"]: s for s in summaries}
    assert len([r for r in resources.values() if r["ResourceType"] == "Custom::SageMakerTrainingJob"]) == 1
    # moto keeps its own physical id for custom resources; the job's name comes from the outputs.
    sagemaker = aws.client("sagemaker")
    name = outputs["TrainingJobName"]
    jobs = sagemaker.list_training_jobs(NameContains=name.rsplit("-", 1)[0])["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in jobs] == [name], "exactly one job per TrainingJob"
    job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
    output_path = job["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    assert outputs == {
        "TrainingJobName": name,
        "TrainingJobArn": job["TrainingJobArn"],
        "ModelArtifacts": f"{output_path}/{name}/output/model.tar.gz",
    }
    return job, resources


def _assert_stack_wiring(aws: LocalAws, job: dict[str, Any], resources: Resources, role: str) -> None:
    (role_name,) = _physical(resources, "AWS::IAM::Role", role)
    assert job["RoleArn"] == aws.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
    (output_bucket,) = _physical(resources, "AWS::S3::Bucket", "Output")
    assert job["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{output_bucket}/")
    (key_id,) = _physical(resources, "AWS::KMS::Key")
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert job["OutputDataConfig"]["KmsKeyId"] == key_arn
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == key_arn


def _assert_retained_after_destroy(
    aws: LocalAws, stack: str, resources: Resources, app: str | None = None, context: dict[str, str] | None = None
) -> None:
    buckets = _physical(resources, "AWS::S3::Bucket")
    (key_id,) = _physical(resources, "AWS::KMS::Key")
    aws.destroy(stack, app=app, context=context)
    statuses = {s["StackName"]: s["StackStatus"] for s in aws.client("cloudformation").list_stacks()["StackSummaries"]}
    assert statuses[stack] == "DELETE_COMPLETE"
    remaining = {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    assert set(buckets) <= remaining, "data buckets are retained"
    assert key_id in {k["KeyId"] for k in aws.client("kms").list_keys()["Keys"]}, "the key is retained"


def test_example_app_deploys_wired_and_destroys_keeping_data(aws: LocalAws) -> None:
    job, resources = _deployed_job(aws, "TrainingExample")
    _assert_stack_wiring(aws, job, resources, "TrainRole")
    assert "VpcConfig" not in job
    assert job["AlgorithmSpecification"]["TrainingImage"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-training:1.0"
    assert job["HyperParameters"] == {"epochs": "10", "learning_rate": "0.01", "early_stopping": "true"}
    _assert_retained_after_destroy(aws, "TrainingExample", resources)


def _existing_network(aws: LocalAws) -> dict[str, str]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zones = [f"{REGION}a", f"{REGION}b"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    return {"vpc_id": vpc, "subnet_ids": ",".join(subnets), "azs": ",".join(zones)}


def _assert_vpc_job(aws: LocalAws, job: dict[str, Any], resources: Resources, subnets: list[str]) -> None:
    _assert_stack_wiring(aws, job, resources, "DistributedRole")
    assert job["ResourceConfig"]["InstanceCount"] == 2
    (group,) = _physical(resources, "AWS::EC2::SecurityGroup", "Distributed")
    assert job["VpcConfig"]["SecurityGroupIds"] == [group]
    assert sorted(job["VpcConfig"]["Subnets"]) == sorted(subnets) and len(subnets) == 2
    rules = aws.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert [pair["GroupId"] for rule in rules for pair in rule["UserIdGroupPairs"]] == [group], "admits only itself"
    (data_bucket,) = _physical(resources, "AWS::S3::Bucket", "Data")
    (channel,) = job["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{data_bucket}/train/"


def test_vpc_job_on_two_instances_gets_the_stacks_own_subnets_and_group(aws: LocalAws) -> None:
    """The stack creates the VPC. (moto cannot delete a CDK-created VPC, so no destroy here.)"""
    context = {"stack_name": "VpcTrainingOwnNetwork"}
    job, resources = _deployed_job(aws, "VpcTrainingOwnNetwork", app=VPC_APP, context=context)
    _assert_vpc_job(aws, job, resources, _physical(resources, "AWS::EC2::Subnet", "Private"))


def test_vpc_job_in_an_existing_network_deploys_and_destroys_keeping_data(aws: LocalAws) -> None:
    network = _existing_network(aws)
    job, resources = _deployed_job(aws, "VpcTraining", app=VPC_APP, context=network)
    _assert_vpc_job(aws, job, resources, network["subnet_ids"].split(","))
    _assert_retained_after_destroy(aws, "VpcTraining", resources, VPC_APP, network)


def test_script_mode_uploads_code_and_data_the_job_names_and_the_role_reads_exactly(aws: LocalAws) -> None:
    import io
    import json

    from constructs_lib import watch

    job, resources = _deployed_job(aws, "ScriptModeExample")
    assets = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    code = json.loads(job["HyperParameters"]["sagemaker_submit_directory"])
    (channel,) = job["InputDataConfig"]
    data = channel["DataSource"]["S3DataSource"]["S3Uri"]
    s3 = aws.client("s3")
    for uri in (code, data):
        assert uri.startswith(f"s3://{assets}/")
        s3.head_object(Bucket=assets, Key=uri.split("/", 3)[3])  # uploaded by cdk deploy
    assert json.loads(job["HyperParameters"]["sagemaker_program"]) == "train.py"
    assert json.loads(job["HyperParameters"]["sagemaker_job_name"]) == job["TrainingJobName"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/pytorch-training:2.3.0-cpu-py311")
    (role_name,) = _physical(resources, "AWS::IAM::Role", "TrainRole")
    iam = aws.client("iam")
    statements = [
        statement
        for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for statement in iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]["Statement"]
    ]
    reads = sorted(
        resource
        for statement in statements
        if "s3:GetObject" in statement["Action"]
        for resource in ([statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"])
    )
    assert reads == sorted(f"arn:aws:s3:::{uri[5:]}" for uri in (code, data))
    out = io.StringIO()
    session = type(
        "Session", (), {"create_client": lambda _, service, region_name=None, config=None: aws.client(service)}
    )()
    assert watch.main(["ScriptModeExample", "--interval", "0"], out=out, session=session) == 0
    assert f"{job['TrainingJobName']}: Completed" in out.getvalue()
