"""The one Python Lambda per stack that serves every ``Custom::SageMakerTrainingJob``."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .memo import per_object
from .nag import acknowledge_wildcard
from .naming import stack_prefix
from .stack_singleton import of_stack

_ID = "SageMakerTrainingJobProvider"
HANDLER_TIMEOUT = Duration.minutes(15)
# How long CloudFormation waits for an answer: the handler always answers well within its own
# timeout, so a lost answer must not hang the stack for CloudFormation's default hour.
SERVICE_TIMEOUT = Duration.minutes(20)


def handler_code_path() -> Path:
    """The handler's source folder: packaged inside the wheel, or ``lambda/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_handler" / "training_job", here.parent / "lambda" / "training_job"):
        if (candidate / "index.py").is_file():
            return candidate
    raise FileNotFoundError("training job handler source (lambda/training_job/index.py) not found")


class TrainingJobProvider(Construct):
    """Lambda function, log group and role shared by all training jobs of a stack.

    Its IAM policy has a fixed number of statements whatever the number of jobs:
    SageMaker actions on ``training-job/<stack prefix>-*`` (plus any user-fixed job names),
    ``iam:PassRole`` on roles under this stack's job-role path (plus user-supplied roles),
    only to ``sagemaker.amazonaws.com``.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.name_prefix = stack_prefix(stack)
        self.job_role_path = f"/sagemaker-training/{self.name_prefix}/"
        self._fixed_job_names: list[str] = []
        self._passed_role_arns: list[str] = []

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Calls SageMaker training job APIs for the stack's training jobs",
        )
        self.log_group.grant_write(self.role)
        job_arn = stack.format_arn(service="sagemaker", resource="training-job", resource_name=f"{self.name_prefix}-*")
        self._jobs_statement = iam.PolicyStatement(
            sid="ManageStackTrainingJobs",
            actions=[
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:DeleteTrainingJob",
                "sagemaker:UpdateTrainingJob",
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            resources=[job_arn],
        )
        self.role.add_to_policy(self._jobs_statement)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FindAbandonedTrainingJobs",
                actions=["sagemaker:ListTrainingJobs"],
                resources=["*"],
            )
        )
        created_roles = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=f"{self.job_role_path.strip('/')}/*",
        )
        self._pass_role_statement = iam.PolicyStatement(
            sid="PassJobRolesToSageMaker",
            actions=["iam:PassRole"],
            resources=[created_roles],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        self.role.add_to_policy(self._pass_role_statement)
        acknowledge_wildcard(
            self.role,
            "*",
            "sagemaker:ListTrainingJobs supports no resource-level permissions; the handler lists "
            "jobs only to find and stop the jobs of a Create that CloudFormation abandoned.",
        )
        acknowledge_wildcard(
            self.role,
            job_arn,
            "Job names are generated at deploy time under this stack's prefix; the wildcard "
            "covers exactly the jobs of this stack.",
        )
        acknowledge_wildcard(
            self.role,
            created_roles,
            "Job roles created by this stack live under one IAM path, so PassRole (only to "
            "sagemaker.amazonaws.com) does not grow with each job.",
        )
        acknowledge_wildcard(
            self.role,
            f"{self.log_group.log_group_arn}:*",
            "Lambda creates log streams at run time inside this function's own log group.",
        )

        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(handler_code_path()), exclude=["__pycache__", "*.pyc"]),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            description="Creates, updates and stops SageMaker training jobs for CloudFormation",
        )

    @property
    def service_token(self) -> str:
        return per_object(self, "service token", lambda: self.function.function_arn)

    def allow_job_name(self, name: str) -> None:
        """Extends the SageMaker statement to one user-fixed job name."""
        if name not in self._fixed_job_names:
            self._fixed_job_names.append(name)
            self._jobs_statement.add_resources(
                Stack.of(self).format_arn(service="sagemaker", resource="training-job", resource_name=name)
            )

    def allow_pass_role(self, role: iam.IRole) -> None:
        """Lets the handler pass a user-supplied role (one ARN, however many jobs use it)."""
        arn = per_object(role, "arn", lambda: role.role_arn)
        if arn not in self._passed_role_arns:
            self._passed_role_arns.append(arn)
            self._pass_role_statement.add_resources(arn)

    @staticmethod
    def of(scope: Construct) -> TrainingJobProvider:
        """The stack's provider, created on first use."""
        return of_stack(scope, _ID, TrainingJobProvider)
