"""Buckets, key, security groups and the custom resource: secure defaults, nothing lost."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob
from tests.stacks import only, resources, template, template_of


def test_created_key_rotates_and_is_retained() -> None:
    tmpl = template_of("example")
    _, key = only(tmpl, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"


def test_buckets_are_private_encrypted_versioned_logged_and_retained() -> None:
    tmpl = template_of("example")
    buckets = resources(tmpl, "AWS::S3::Bucket")
    assert len(buckets) == 2
    (log_id,) = [k for k in buckets if "AccessLogs" in k]
    (output_id,) = [k for k in buckets if "Output" in k]
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["UpdateReplacePolicy"] == "Retain"
    output = buckets[output_id]["Properties"]
    (rule,) = output["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [only(tmpl, "AWS::KMS::Key")[0], "Arn"]
    }
    assert output["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_id}


def test_every_bucket_refuses_plain_http() -> None:
    tmpl = template_of("example")
    policies = resources(tmpl, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_nothing_deletes_data_on_stack_delete() -> None:
    for name in ("example", "vpc_two_instances", "user_supplied"):
        tmpl = template_of(name)
        assert not [k for k, r in tmpl["Resources"].items() if r["Type"] == "Custom::S3AutoDeleteObjects"]
        for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for bucket in resources(tmpl, kind).values():
                assert bucket["DeletionPolicy"] == "Retain"


def test_user_supplied_storage_creates_no_bucket_and_no_key() -> None:
    tmpl = template_of("user_supplied")
    assert resources(tmpl, "AWS::S3::Bucket") == {}
    assert resources(tmpl, "AWS::KMS::Key") == {}


def test_distributed_vpc_job_admits_only_itself() -> None:
    tmpl = template_of("vpc_two_instances")
    group_id, group = only(tmpl, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group["Properties"]
    (ingress,) = resources(tmpl, "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["IpProtocol"] == "-1"  # all traffic, ESP and UDP 500 included
    assert ingress["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    assert ingress["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    (_, job) = only(tmpl, "Custom::SageMakerTrainingJob")
    ingress_id = next(iter(resources(tmpl, "AWS::EC2::SecurityGroupIngress")))
    assert ingress_id in job["DependsOn"]


def _vpc_job(instance_count: int) -> dict:
    stack = cdk.Stack(cdk.App(), "Single")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), vpc=vpc, instance_count=instance_count)
    return template(stack)


def test_single_instance_vpc_job_has_no_ingress_at_all() -> None:
    tmpl = _vpc_job(1)
    assert resources(tmpl, "AWS::EC2::SecurityGroupIngress") == {}
    _, group = only(tmpl, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in group["Properties"]


def test_job_waits_for_its_role_policy() -> None:
    tmpl = template_of("example")
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    policies = [k for k in resources(tmpl, "AWS::IAM::Policy") if k.startswith("TrainRole")]
    assert set(policies) <= set(job["DependsOn"])


def test_one_python_handler_and_no_nodejs_lambda() -> None:
    for name in ("example", "vpc_two_instances", "user_supplied"):
        tmpl = template_of(name)
        _, function = only(tmpl, "AWS::Lambda::Function")
        assert function["Properties"]["Runtime"].startswith("python3.")
        assert function["Properties"]["Handler"] == "index.handler"
        assert function["Properties"]["Timeout"] == 900


def test_custom_resource_type_token_and_timeout() -> None:
    tmpl = template_of("example")
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    function_id, _ = only(tmpl, "AWS::Lambda::Function")
    props = job["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert props["SchemaVersion"] == "1"
    assert props["RemovalBehavior"] == "stop"
    assert int(props["ServiceTimeout"]) <= 3600
    assert "TrainingJobName" not in props


def test_outputs_expose_name_arn_and_artifacts() -> None:
    tmpl = template_of("example")
    job_id, _ = only(tmpl, "Custom::SageMakerTrainingJob")
    outputs = {k: v["Value"] for k, v in tmpl["Outputs"].items()}
    assert outputs == {
        "TrainingJobName": {"Fn::GetAtt": [job_id, "TrainingJobName"]},
        "TrainingJobArn": {"Fn::GetAtt": [job_id, "TrainingJobArn"]},
        "ModelArtifacts": {"Fn::GetAtt": [job_id, "ModelArtifacts"]},
    }


def test_job_is_grantable_and_connectable() -> None:
    from aws_cdk import aws_s3 as s3

    stack = cdk.Stack(cdk.App(), "Compose")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    job = TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), vpc=vpc)
    extra = s3.Bucket.from_bucket_name(stack, "Extra", "extra-bucket")
    extra.grant_read(job)
    database = ec2.SecurityGroup(stack, "Database", vpc=vpc)
    database.connections.allow_from(job, ec2.Port.tcp(5432))
    tmpl = template(stack)
    policy_text = str(tmpl["Resources"])
    assert "arn:" in policy_text and "extra-bucket" in policy_text
    (ingress,) = resources(tmpl, "AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["FromPort"] == 5432
    job_group = next(k for k in resources(tmpl, "AWS::EC2::SecurityGroup") if k.startswith("JobSecurityGroup"))
    assert ingress["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [job_group, "GroupId"]}
    assert job.grant_principal is job.role
