"""The SageMaker execution role of a training job: who may assume it, and exactly the
permissions the job's configuration needs (nothing for what it does not use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .nag import acknowledge_rule, acknowledge_wildcard
from .policy import allow, allow_key, allow_s3_encryption, arn
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


@dataclass(frozen=True)
class JobAccess:
    """What one job reaches; its role's statements are derived from this and nothing else."""

    log_streams: str  # the job's log stream names start with this
    inputs: Sequence[S3Location]
    output: S3Location
    output_kms_key: kms.IKey | None
    checkpoint: S3Location | None
    volume_kms_key: kms.IKey | None
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


def grant_job_access(stack: Stack, role: iam.IRole, access: JobAccess) -> None:
    """Adds the statements ``access`` needs to ``role`` (each once, however many jobs share it)."""
    log_group_arn = arn(stack, "logs", f"log-group:{LOG_GROUP}")
    log_streams = f"{log_group_arn}:log-stream:{access.log_streams}*"
    # CloudWatch Logs authorizes the log-group actions against the group's ARN with ``:*``
    # (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html:
    # "use this version [with :*] in IAM policies"); the bare ARN denies them.
    allow(
        role,
        ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
        [f"{log_group_arn}:*"],
        sid="TrainingJobLogGroup",
    )
    allow(role, ["logs:CreateLogStream", "logs:PutLogEvents"], [log_streams], sid="TrainingJobLogs")
    allow(
        role,
        ["cloudwatch:PutMetricData"],
        ["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": LOG_GROUP}},
        sid="TrainingJobMetrics",
    )
    for location in access.inputs:
        location.grant_read(stack, role)
    access.output.grant_write(stack, role)
    if access.output_kms_key is not None and access.output_kms_key is not access.output.encryption_key:
        allow_s3_encryption(stack, role, access.output_kms_key, write=True)
    if access.checkpoint is not None:
        access.checkpoint.grant_read_write(stack, role)
    if access.volume_kms_key is not None:
        allow_key(
            stack,
            role,
            ["kms:CreateGrant"],
            access.volume_kms_key,
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            sid="TrainingVolumeEncryption",
        )
    if access.subnet_ids:
        _grant_network_interfaces(stack, role, access)
    _acknowledge_wildcards(stack, role, access, log_streams)


def _grant_network_interfaces(stack: Stack, role: iam.IRole, access: JobAccess) -> None:
    """The EC2 actions SageMaker uses to attach the job to the VPC, scoped to its subnets and
    security groups wherever EC2 supports resource-level permissions."""
    interfaces = arn(stack, "ec2", "network-interface/*")
    subnets = [arn(stack, "ec2", f"subnet/{s}") for s in access.subnet_ids]
    groups = [arn(stack, "ec2", f"security-group/{g}") for g in access.security_group_ids]
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


def _acknowledge_wildcards(stack: Stack, role: iam.IRole, access: JobAccess, log_streams: str) -> None:
    acknowledge_wildcard(
        role,
        "*",
        "Only actions without resource-level permissions use '*': ecr:GetAuthorizationToken, "
        "cloudwatch:PutMetricData (limited to the SageMaker namespace by condition) and, for "
        "VPC jobs, the EC2 describe actions.",
    )
    acknowledge_wildcard(
        role,
        f"{arn(stack, 'logs', f'log-group:{LOG_GROUP}')}:*",
        "CloudWatch Logs authorizes CreateLogGroup and DescribeLogStreams on the group's ARN with ':*' "
        "(its streams); the group is SageMaker's own training log group, nothing else.",
    )
    acknowledge_wildcard(
        role,
        log_streams,
        "SageMaker names log streams <job name>/<host> at run time; the wildcard covers only this job's streams.",
    )
    locations = [*access.inputs, access.output, *([access.checkpoint] if access.checkpoint else [])]
    for location in locations:
        acknowledge_wildcard(
            role,
            location.objects_arn(stack),
            "Objects below a prefix this job is configured to read or write; SageMaker "
            "chooses the object names at run time.",
        )
