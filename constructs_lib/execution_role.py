"""The SageMaker execution role of a training job: who may assume it, and exactly the
permissions the job's configuration needs (nothing for what it does not use)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .nag import acknowledge_rule, acknowledge_wildcard, acknowledge_wildcards
from .policy import allow, allow_key, arn
from .s3_location import S3Location

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def sagemaker_service_role(
    scope: Construct,
    construct_id: str,
    *,
    source_arn: str | list[str] | None = None,
    path: str | None = None,
    description: str | None = None,
    session_tags: bool = False,
) -> iam.Role:
    """A role only SageMaker can assume, and only on behalf of this account's resources.

    For the roles SageMaker assumes beside a training job (a model's, an endpoint's, a
    processing job's): the trust policy carries the confused-deputy conditions
    ``aws:SourceAccount`` (the stack's account) and ``aws:SourceArn`` (``source_arn``, an ARN
    pattern). Default ``source_arn``: any SageMaker resource of the stack's account and region.
    ``session_tags`` also allows ``sts:TagSession`` (session tag chaining). Default: no.
    """
    stack = Stack.of(scope)
    principal: iam.IPrincipal = iam.ServicePrincipal(
        "sagemaker.amazonaws.com",
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": source_arn or arn(stack, "sagemaker", "*")},
        },
    )
    if session_tags:
        principal = iam.SessionTagsPrincipal(principal)
    return iam.Role(scope, construct_id, path=path, description=description, assumed_by=principal)


def create_execution_role(
    scope: Construct,
    stack: Stack,
    *,
    path: str,
    job_names: Sequence[str],
    session_tags: bool = False,
    rule_jobs: bool = False,
) -> iam.Role:
    """A role only SageMaker can assume, for this account's jobs named ``job_names``
    (names, or a prefix ending in ``*``).

    ``rule_jobs``: the job has Debugger or Profiler rules, which SageMaker runs as processing jobs
    with the job's role (developer guide, "Amazon SageMaker Debugger references": "The rule
    configuration API operations use the SageMaker Processing functionality"). Their names are
    derived by SageMaker (not documented), so the trust then also admits this account's processing
    jobs of this region (``processing-job/*``, as SageMaker's confused-deputy page writes it for
    processing jobs); only principals that may pass this role (the stack's handler) can start one."""
    sources = [arn(stack, "sagemaker", f"training-job/{names}") for names in job_names]
    if rule_jobs:
        sources.append(arn(stack, "sagemaker", "processing-job/*"))
    role = sagemaker_service_role(
        scope,
        "Role",
        path=path,
        description=f"SageMaker execution role of training job {scope.node.path}"[:1000],
        source_arn=sources if len(sources) > 1 else sources[0],
        session_tags=session_tags,
    )
    acknowledge_rule(
        role,
        "IAMNoInlinePolicy",
        "Generated for exactly this job's role from what the job uses: an inline policy cannot be "
        "attached to another principal, and CloudFormation versions it with the stack.",
    )
    return role


def grant_logs(stack: Stack, role: iam.IRole, log_streams: str) -> None:
    """The job's CloudWatch Logs streams (names starting with ``log_streams``) and metrics."""
    log_group_arn = arn(stack, "logs", f"log-group:{LOG_GROUP}")
    streams = f"{log_group_arn}:log-stream:{log_streams}*"
    # CloudWatch Logs authorizes the log-group actions against the group's ARN with ``:*``
    # (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html:
    # "use this version [with :*] in IAM policies"); the bare ARN denies them.
    allow(
        role,
        ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
        [f"{log_group_arn}:*"],
        sid="TrainingJobLogGroup",
    )
    allow(role, ["logs:CreateLogStream", "logs:PutLogEvents"], [streams], sid="TrainingJobLogs")
    allow(
        role,
        ["cloudwatch:PutMetricData"],
        ["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": LOG_GROUP}},
        sid="TrainingJobMetrics",
    )
    acknowledge_wildcards(
        role,
        (
            "*",
            "Only actions without resource-level permissions use '*': ecr:GetAuthorizationToken, "
            "cloudwatch:PutMetricData (limited to the SageMaker namespace by condition) and, for "
            "VPC jobs, the EC2 describe actions.",
        ),
        (
            f"{log_group_arn}:*",
            "CloudWatch Logs authorizes CreateLogGroup and DescribeLogStreams on the group's ARN with ':*' "
            "(its streams); the group is SageMaker's own training log group, nothing else.",
        ),
        (
            streams,
            "SageMaker names log streams <job name>/<host> at run time; the wildcard covers only this job's streams.",
        ),
    )


def acknowledge_objects(stack: Stack, role: iam.IRole, location: S3Location) -> None:
    """The objects below a prefix the job reads or writes: their names are SageMaker's choice."""
    acknowledge_wildcard(
        role,
        location.objects_arn(stack),
        "Objects below a prefix this job is configured to read or write; SageMaker "
        "chooses the object names at run time.",
    )


def grant_volume_key(stack: Stack, role: iam.IRole, key: kms.IKey) -> None:
    """SageMaker creates a grant on ``key`` for the job's storage volumes."""
    allow_key(
        stack,
        role,
        ["kms:CreateGrant"],
        key,
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        sid="TrainingVolumeEncryption",
    )


def grant_network_interfaces(
    stack: Stack, role: iam.IRole, subnet_ids: Sequence[str], security_group_ids: Sequence[str]
) -> None:
    """The EC2 actions SageMaker uses to attach the job to the VPC, scoped to its subnets and
    security groups wherever EC2 supports resource-level permissions."""
    interfaces = arn(stack, "ec2", "network-interface/*")
    subnets = [arn(stack, "ec2", f"subnet/{s}") for s in subnet_ids]
    groups = [arn(stack, "ec2", f"security-group/{g}") for g in security_group_ids]
    allow(role, ["ec2:CreateNetworkInterface"], [interfaces, *subnets, *groups], sid="CreateJobNetworkInterfaces")
    # SAR: the permission actions take the network-interface resource type (with ec2:Subnet).
    allow(
        role,
        ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
        [interfaces],
        conditions={"ArnEquals": {"ec2:Subnet": subnets}},
        sid="ManageJobNetworkInterfaces",
    )
    allow(
        role,
        [
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
        ],
        ["*"],
        sid="DescribeJobNetwork",
    )
    acknowledge_wildcard(
        role,
        interfaces,
        "SageMaker creates the job's network interfaces at run time, so their ids are unknown; "
        "all actions on them are limited to the job's subnets (and creation to its security groups).",
    )
