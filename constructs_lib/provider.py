"""The one Python Lambda per stack that serves every ``Custom::SageMakerTrainingJob``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .guardrails import Guardrails, Shape, shape
from .handler_asset import blanked_copy
from .lazy import lazy_any
from .memo import per_object
from .nag import acknowledge_rule, acknowledge_wildcards
from .naming import name_spellings, stack_prefix
from .policy import arn
from .stack_singleton import of_stack

_ID = "SageMakerTrainingJobProvider"
HANDLER_TIMEOUT = Duration.minutes(15)
# One time budget. Lambda retries a failed asynchronous invocation twice (about 1 and 2 minutes
# later), may deliver an event twice and keeps throttled events for up to 6 hours
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). No
# invocation may start so late that it could still be creating a job after CloudFormation gave up
# (and its rollback's Delete looked for one): an event older than MAX_EVENT_AGE is never started
# (it goes to the dead-letter queue), and the last one to start ends within CloudFormation's
# wait (ServiceTimeout, at most 3600 s:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html).
SERVICE_TIMEOUT_SECONDS = 60 * 60
ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.seconds(SERVICE_TIMEOUT_SECONDS - int(HANDLER_TIMEOUT.to_seconds()) - 5 * 60)


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
    only to ``sagemaker.amazonaws.com``. ``sagemaker:CreateTrainingJob`` is in a policy of its
    own whose conditions pin it to what the stack's jobs use (``Guardrails``), and
    ``sagemaker:DeleteTrainingJob`` is granted only when a job uses ``JobRemovalBehavior.DELETE``.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.name_prefix = stack_prefix(stack)
        self.job_role_path = f"/sagemaker-training/{self.name_prefix}/"
        self._fixed_job_names: list[str] = []
        self._passed_role_arns: list[str] = []
        # What each job will send and whether it deletes jobs, read when the policy is rendered.
        self._jobs: list[Callable[[], tuple[Mapping[str, Any], bool]]] = []
        self.log_encryption_key: kms.IKey | None = None
        self._log_key_chosen = False

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
        self._grant_stack_jobs(stack)
        self._create_function(stack)

    def _grant_stack_jobs(self, stack: Stack) -> None:
        """The statements that do not grow with the jobs: the stack's job names, its job roles,
        its status, the listing of abandoned jobs; CreateTrainingJob's policy rendered at synth."""
        job_arn = stack.format_arn(service="sagemaker", resource="training-job", resource_name=f"{self.name_prefix}-*")
        self._job_arns = [job_arn]
        self._jobs_statement = iam.PolicyStatement(
            sid="ManageStackTrainingJobs",
            actions=[
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            resources=[job_arn],
        )
        self.role.add_to_policy(self._jobs_statement)
        # Rendered at synth, once every job of the stack has registered what it uses.
        self.start_jobs_policy = iam.CfnPolicy(
            self,
            "StartJobsPolicy",
            policy_name="StartStackTrainingJobs",
            roles=[self.role.role_name],
            policy_document=lazy_any(self._start_jobs_document),
        )
        # Whether CloudFormation is rolling the stack back (a rollback returns to the previous job).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadStackStatus", actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]
            )
        )
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
        stack_jobs = (
            job_arn,
            "Job names are generated at deploy time under this stack's prefix; the wildcard "
            "covers exactly the jobs of this stack.",
        )
        acknowledge_wildcards(
            self.role,
            (
                "*",
                "sagemaker:ListTrainingJobs supports no resource-level permissions; the handler lists "
                "jobs only to find and stop the jobs of a Create that CloudFormation abandoned.",
            ),
            stack_jobs,
            (
                created_roles,
                "Job roles created by this stack live under one IAM path, so PassRole (only to "
                "sagemaker.amazonaws.com) does not grow with each job.",
            ),
            (
                f"{self.log_group.log_group_arn}:*",
                "Lambda creates log streams at run time inside this function's own log group.",
            ),
        )
        acknowledge_wildcards(self.start_jobs_policy, stack_jobs)

    def _create_function(self, stack: Stack) -> None:
        """The handler function, its dead-letter queue, and why cdk-nag's rules on it do not apply."""
        # Events whose invocation failed after Lambda's retries (an answer CloudFormation never
        # received): kept 14 days for an operator to see what the handler could not finish.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(blanked_copy(handler_code_path()))),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            description="Creates, updates and stops SageMaker training jobs for CloudFormation",
            # Whose events it obeys comes from here, never from an event.
            environment={"STACK_ID": stack.stack_id, "JOB_NAME_PREFIX": self.name_prefix},
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
        )
        acknowledge_rule(
            self.function,
            "LambdaConcurrency",
            "Reserved concurrency would cap how many of the stack's jobs start at once and take "
            "capacity from the account while the function is idle; CloudFormation's invocations "
            "are asynchronous and queue when throttled.",
            packs=("HIPAA.Security", "NIST.800.53.R5"),
        )
        acknowledge_rule(
            self.function,
            "LambdaInsideVPC",
            "The function only calls AWS APIs (SageMaker, CloudFormation) and CloudFormation's "
            "response URL over TLS, and reaches no resource inside a VPC.",
        )
        for policy_scope in (self.role, self.start_jobs_policy):
            acknowledge_rule(
                policy_scope,
                "IAMNoInlinePolicy",
                "Generated for exactly this role from what the stack's jobs use: an inline policy "
                "cannot be attached to another principal, and CloudFormation versions it with the stack.",
            )
        self.function.node.add_dependency(self.start_jobs_policy)

    @property
    def service_token(self) -> str:
        return per_object(self, "service token", lambda: self.function.function_arn)

    def allow_job_name(self, name: str) -> None:
        """Extends the SageMaker statements to one user-fixed job name (both spellings, see
        ``name_spellings``)."""
        for spelling in name_spellings(name):
            if spelling not in self._fixed_job_names:
                self._fixed_job_names.append(spelling)
                job_arn = arn(self, "sagemaker", f"training-job/{spelling}")
                self._job_arns.append(job_arn)
                self._jobs_statement.add_resources(job_arn)

    def encrypt_logs(self, key: kms.IKey, *, default: bool = False) -> None:
        """Encrypts the handler's log group with ``key`` (a customer managed key).

        Adds to the key's policy (when this stack owns the key) what CloudWatch Logs needs:
        the key's use by ``logs.<region>.amazonaws.com`` for this account's log groups of this
        region. The stack's training key is used by default when the stack has one; a key
        given here (``default=False``) takes precedence. Default: no key (CloudWatch Logs'
        own encryption).
        """
        if self._log_key_chosen and default:
            return
        self._log_key_chosen = not default
        self.log_encryption_key = key
        stack = Stack.of(self)
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.kms_key_id = key.key_arn
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:DescribeKey",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def register_job(self, job: Callable[[], tuple[Mapping[str, Any], bool]]) -> None:
        """Lets the handler start the job ``job()`` describes (its request, as it is when the
        template is rendered, and whether its removal deletes it)."""
        self._jobs.append(job)

    def _start_jobs_document(self) -> dict[str, Any]:
        """CreateTrainingJob, one statement per job shape (so that each multivalued key is either
        pinned with its Null guard or required absent), UpdateTrainingJob under the same limits,
        and DeleteTrainingJob when a job deletes its jobs."""
        shapes: dict[Shape, Guardrails] = {}
        every, deletes_jobs = Guardrails(any_key=arn(self, "kms", "key/*")), False
        for job in self._jobs:
            request, deletes = job()
            shapes.setdefault(shape(request), Guardrails(any_key=every.any_key)).add(request)
            every.add(request)
            deletes_jobs |= deletes
        statements: list[dict[str, Any]] = []
        for (instances, in_vpc), guardrails in sorted(shapes.items(), key=lambda item: (not item[0][0], item[0][1])):
            kind = ("" if instances else "Serverless") + "TrainingJobs" + ("InVpc" if in_vpc else "")
            statements.append(
                {
                    "Sid": f"StartStack{kind}",
                    "Effect": "Allow",
                    "Action": "sagemaker:CreateTrainingJob",
                    # A training plan is a resource of CreateTrainingJob too (service authorization reference).
                    "Resource": [*self._job_arns, *guardrails.training_plans],
                    "Condition": guardrails.conditions(),
                }
            )
        if not self._jobs:  # a provider without jobs (TrainingStorage.of alone) starts none
            statements.append(
                {
                    "Sid": "NoTrainingJobs",
                    "Effect": "Deny",
                    "Action": ["sagemaker:CreateTrainingJob", "sagemaker:UpdateTrainingJob"],
                    "Resource": "*",
                }
            )
        else:
            statements.append(
                {
                    "Sid": "UpdateStackTrainingJobs",
                    "Effect": "Allow",
                    "Action": "sagemaker:UpdateTrainingJob",
                    "Resource": list(self._job_arns),
                    "Condition": every.update_conditions(),
                }
            )
        if deletes_jobs:
            statements.append(
                {
                    "Sid": "DeleteStackTrainingJobs",
                    "Effect": "Allow",
                    "Action": "sagemaker:DeleteTrainingJob",
                    "Resource": list(self._job_arns),
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

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
