"""Buckets, key, security groups and the custom resource: secure defaults, nothing lost."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms

from constructs_lib import TrainingImage, TrainingJob, TrainingJobValidationError, TrainingStorage
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
    assert props["SchemaVersion"] == "2"
    assert "RemovalBehavior" not in props  # the handler's default: stop
    assert int(props["ServiceTimeout"]) <= 3600
    assert "TrainingJobName" not in props


def test_one_time_budget_no_invocation_starts_a_job_after_cloudformation_gave_up() -> None:
    """Lambda retries failed asynchronous invocations (twice by default) and keeps throttled events
    for up to 6 hours: the function's EventInvokeConfig bounds the event age so that the last
    invocation that may start ends before CloudFormation's ServiceTimeout (after which the rollback's
    Delete looks for what the Create started)."""
    tmpl = template_of("example")
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    _, function = only(tmpl, "AWS::Lambda::Function")
    _, invoke = only(tmpl, "AWS::Lambda::EventInvokeConfig")
    config = invoke["Properties"]
    assert config["MaximumRetryAttempts"] == 2
    latest_end = config["MaximumEventAgeInSeconds"] + function["Properties"]["Timeout"]
    assert latest_end < int(job["Properties"]["ServiceTimeout"]) <= 3600


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


def _egress_job(**props: object) -> tuple[cdk.Stack, TrainingJob]:
    stack = cdk.Stack(cdk.App(), "Egress", env=cdk.Environment(account="111111111111", region="us-east-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"], private_subnet_ids=["subnet-a"]
    )
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    job = TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), vpc=vpc, **props)  # type: ignore[arg-type]
    return stack, job


def test_restricted_egress_allows_only_the_group_itself_and_what_the_user_adds() -> None:
    stack, job = _egress_job(instance_count=2, allow_all_outbound=False)
    endpoints = ec2.Peer.prefix_list("pl-63a5400a")  # an S3 gateway endpoint's prefix list
    job.connections.allow_to(endpoints, ec2.Port.tcp(443), "S3")
    tmpl = template(stack)
    (group_id, group) = only(tmpl, "AWS::EC2::SecurityGroup")
    # An inline rule that matches nothing: without any, EC2 adds its default allow-all egress rule.
    (inline,) = group["Properties"]["SecurityGroupEgress"]
    assert inline["CidrIp"] == "255.255.255.255/32" and inline["IpProtocol"] == "icmp"
    separate = [r["Properties"] for r in resources(tmpl, "AWS::EC2::SecurityGroupEgress").values()]
    assert {(r.get("DestinationPrefixListId"), str(r.get("DestinationSecurityGroupId"))) for r in separate} == {
        ("pl-63a5400a", "None"),
        (None, str({"Fn::GetAtt": [group_id, "GroupId"]})),
    }


def test_a_distributed_job_with_open_egress_adds_no_redundant_rule_and_no_warning() -> None:
    stack, _ = _egress_job(instance_count=2)
    tmpl = template(stack)
    assert resources(tmpl, "AWS::EC2::SecurityGroupEgress") == {}
    assert len(resources(tmpl, "AWS::EC2::SecurityGroupIngress")) == 1
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning("*", cdk.assertions.Match.any_value())
    assert not [w for w in warnings if "Egress" in str(w.entry.data)]


def test_a_role_for_a_model_trusts_sagemaker_only_for_this_account() -> None:
    from constructs_lib import sagemaker_service_role

    stack = cdk.Stack(cdk.App(), "Roles", env=cdk.Environment(account="111111111111", region="us-east-1"))
    sagemaker_service_role(stack, "ModelRole")
    sagemaker_service_role(stack, "Scoped", source_arn="arn:aws:sagemaker:us-east-1:111111111111:model/serving-*")
    roles = resources(template(stack), "AWS::IAM::Role")
    trusts = {k: r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0] for k, r in roles.items()}
    for statement in trusts.values():
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    arns = sorted(str(s["Condition"]["ArnLike"]["aws:SourceArn"]) for s in trusts.values())
    assert "arn:aws:sagemaker:us-east-1:111111111111:model/serving-*" in arns
    assert any(":sagemaker:us-east-1:111111111111:*" in a for a in arns)


def test_a_log_key_the_user_gives_wins_over_the_stacks_own() -> None:
    from aws_cdk import aws_kms as kms

    from constructs_lib import TrainingJobProvider

    stack, _ = _egress_job()
    key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    TrainingJobProvider.of(stack).encrypt_logs(key)
    TrainingJob(stack, "Second", image=TrainingImage.from_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1"))
    tmpl = template(stack)
    (log_group,) = resources(tmpl, "AWS::Logs::LogGroup").values()
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    policy = next(iter(k for k in resources(tmpl, "AWS::KMS::Key") if k.startswith("LogsKey")))
    statements = resources(tmpl, "AWS::KMS::Key")[policy]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s.get("Sid") == "CloudWatchLogsOfThisAccount"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert "kms:Decrypt" in logs["Action"] and not [a for a in logs["Action"] if "*" in a]


def test_training_storage_takes_a_customer_managed_key() -> None:
    """A regulated user's own key encrypts the output bucket, the jobs' output and volumes, and the
    handler's logs; no key is created."""
    stack = cdk.Stack(cdk.App(), "OwnKey", env=cdk.Environment(account="111111111111", region="us-east-1"))
    key = kms.Key(stack, "CorporateKey", enable_key_rotation=True)
    TrainingStorage.of(stack, encryption_key=key)
    job = TrainingJob(
        stack, "Job", image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "R", "t"))
    )
    tmpl = template(stack)
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    assert list(resources(tmpl, "AWS::KMS::Key")) == [key_id]
    arn = {"Fn::GetAtt": [key_id, "Arn"]}
    (output,) = [
        b for k, b in resources(tmpl, "AWS::S3::Bucket").items() if k.startswith("SageMakerTrainingStorageOutput")
    ]
    rule = output["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == arn
    request = stack.resolve(job.request)
    assert request["OutputDataConfig"]["KmsKeyId"] == request["ResourceConfig"]["VolumeKmsKeyId"] == arn
    (log_group,) = resources(tmpl, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["KmsKeyId"] == arn
    with pytest.raises(TrainingJobValidationError, match="before the stack's first TrainingJob"):
        TrainingStorage.of(stack, encryption_key=kms.Key(stack, "Other"))
